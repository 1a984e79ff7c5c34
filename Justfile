# bulkscribe tasks: `uv run just <recipe>`

default:
    @just --list

# Transcribe the bundled examples offline (pocketsphinx)
run *ARGS:
    uv run bulkscribe examples/demo.txt --asr sphinx {{ARGS}}

# Headless run of the examples into ./out
demo:
    uv run bulkscribe examples/demo.txt --headless --asr sphinx --output out/demo

# Full test suite, one worker per core
test *ARGS:
    uv run pytest -n auto --dist loadgroup {{ARGS}}

# Benchmarks: print tables, write fresh JSON under bench/runs/ (ignored by git; bench/results/ keeps the reference figures)
bench OUT="bench/runs":
    mkdir -p {{OUT}}
    uv run python -m bench.engine --out {{OUT}}/engine.json
    uv run python -m bench.store --out {{OUT}}/store.json
    uv run python -m bench.resume --out {{OUT}}/resume.json
    uv run python -m bench.tui --out {{OUT}}/tui.json
    uv run python -m bench.feeds --out {{OUT}}/feeds.json
    uv run python bench/local_asr.py --out {{OUT}}/local_asr.json

# Rewrite the tracked reference figures in bench/results/ (review the diff before committing)
bench-reference:
    just bench bench/results

# Lint and type-check
lint:
    uv run ruff check engine sessions tui tests bench
    uv run ruff format --check engine sessions tui tests bench
    uv run mypy engine sessions tui tests bench
