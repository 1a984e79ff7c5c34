# bulkscribe tasks: `uv run just <recipe>`

default:
    @just --list

# Transcribe the bundled examples offline (pocketsphinx)
run *ARGS:
    uv run bulkscribe examples/demo.txt --asr sphinx {{ARGS}}

# Headless run of the examples into ./out
demo:
    uv run bulkscribe examples/demo.txt --headless --asr sphinx --output out/demo

# Full test suite
test *ARGS:
    uv run pytest {{ARGS}}

# Benchmarks (print tables, write bench/results/*.json)
bench:
    uv run python -m bench.engine
    uv run python -m bench.store
    uv run python -m bench.resume
    uv run python -m bench.tui
    uv run python -m bench.feeds
    uv run python bench/local_asr.py

# Lint and type-check
lint:
    uv run ruff check engine sessions tui tests bench
    uv run ruff format --check engine sessions tui tests bench
    uv run mypy engine sessions tui
