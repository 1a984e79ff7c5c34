"""Output file names: safe on every desktop OS, unique per folder, and never outside it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine.errors import OutputError
from engine.outputs import NameBook, inside, safe_stem


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("Talk: Part 1", "Talk - Part 1"),
        ("12:30 news", "12-30 news"),
        ("AC/DC live", "AC-DC live"),
        ('What? "Why" <now>*', "What Why now"),
        ("a\\b|c", "a-b-c"),
        ("  spaced \t out\n title  ", "spaced out title"),
        ("...hidden.", "hidden"),
        ("Café – Jalapeño", "Café – Jalapeño"),
        ("東京の夜 🌃", "東京の夜 🌃"),
        ("", "untitled"),
        ("   ", "untitled"),
        (".", "untitled"),
        ("..", "untitled"),
        ("???", "untitled"),
    ],
)
def test_safe_stem_examples(title: str, stem: str) -> None:
    assert safe_stem(title) == stem


def test_safe_stem_is_nfc() -> None:
    decomposed = "Cafe\u0301"
    assert safe_stem(decomposed) == "Caf\u00e9"


def test_traversal_and_absolute_titles_become_plain_names() -> None:
    for title in ("../../etc/passwd", "/etc/passwd", "C:\\Windows\\system32", "..\\..\\boot.ini"):
        stem = safe_stem(title)
        assert "/" not in stem and "\\" not in stem and ":" not in stem
        assert not stem.startswith(".")
        assert Path(stem).name == stem
    assert safe_stem("../../etc/passwd").endswith("etc-passwd")


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("CON", "CON_"),
        ("con", "con_"),
        ("nul", "nul_"),
        ("Com1", "Com1_"),
        ("LPT9", "LPT9_"),
        ("con.txt", "con_.txt"),
        ("AUX .tar.gz", "AUX_.tar.gz"),
        ("COM\u00b9", "COM\u00b9_"),
        ("CONSOLE", "CONSOLE"),
        ("COM10", "COM10"),
        ("Nully", "Nully"),
    ],
)
def test_windows_reserved_names_get_a_suffix(title: str, stem: str) -> None:
    assert safe_stem(title) == stem


def test_control_bidi_and_zero_width_characters_are_removed() -> None:
    title = "evil\u202egnp.exe\u200b\u200d\ufeff\x00\x07\x1b[31m"
    stem = safe_stem(title)
    assert stem == "evilgnp.exe [31m"  # control characters separate words like spaces
    assert safe_stem("line\u2028break") == "line break"
    assert safe_stem("\u200f\u200e") == "untitled"


def test_long_titles_are_cut_in_bytes_at_a_character_boundary() -> None:
    assert len(safe_stem("a" * 300).encode()) == 120
    cjk = safe_stem("語" * 300)  # three bytes each: 40 fit
    assert cjk == "語" * 40
    emoji = safe_stem("🎙" * 300, max_len=50)  # four bytes each
    assert emoji == "🎙" * 12
    mixed = safe_stem("x" + "é" * 300, max_len=10)
    assert mixed.encode("utf-8").decode("utf-8") == mixed
    assert len(mixed.encode()) <= 10


def test_cut_never_leaves_trailing_dot_or_space() -> None:
    stem = safe_stem("a" * 118 + " .b", max_len=120)
    assert stem == "a" * 118


def test_cut_does_not_strand_a_combining_mark() -> None:
    # "q" + combining ring has no precomposed form, so NFC keeps it as two characters.
    # Nine bytes would end on a bare "q" whose ring does not fit: the "q" goes too.
    stem = safe_stem("ab" + "q\u030a" * 10, max_len=9)
    assert stem == "ab" + "q\u030a" * 2


def test_namebook_hands_out_unique_case_insensitive_stems(tmp_path: Path) -> None:
    book = NameBook(tmp_path)
    assert book.claim("Talk", "k1") == "Talk"
    assert book.claim("Talk", "k2") == "Talk (2)"
    assert book.claim("talk", "k3") == "talk (3)"
    assert book.claim("TALK", "k4") == "TALK (4)"
    assert book.claim("Talk?", "k5") == "Talk (5)"


def test_namebook_same_key_gets_same_stem(tmp_path: Path) -> None:
    book = NameBook(tmp_path)
    first = book.claim("Talk", "item-1")
    book.claim("Talk", "item-2")
    assert book.claim("Talk", "item-1") == first == "Talk"
    assert book.claim("Renamed later", "item-1") == "Talk"


def test_namebook_respects_files_already_in_the_folder(tmp_path: Path) -> None:
    (tmp_path / "Talk.md").write_text("earlier run")
    (tmp_path / "Talk (2).srt").write_text("earlier run")
    book = NameBook(tmp_path)
    assert book.claim("talk", "new") == "talk (3)"


def test_namebook_respects_given_existing_stems(tmp_path: Path) -> None:
    book = NameBook(tmp_path / "not-yet-created", existing=["Intro"])
    assert book.claim("intro", "a") == "intro (2)"


def test_namebook_never_hands_out_report_names(tmp_path: Path) -> None:
    book = NameBook(tmp_path)
    assert book.claim("manifest", "a") == "manifest (2)"
    assert book.claim("Items", "b") == "Items (2)"


def test_namebook_restores_claims_from_a_saved_session(tmp_path: Path) -> None:
    (tmp_path / "Talk.md").write_text("written before the crash")
    book = NameBook(tmp_path, claimed={"item-1": "Talk"})
    assert book.claim("Talk", "item-1") == "Talk"
    assert book.claim("Talk", "item-2") == "Talk (2)"
    assert book.claims() == {"item-1": "Talk", "item-2": "Talk (2)"}


def test_namebook_suffix_keeps_long_names_within_limit(tmp_path: Path) -> None:
    book = NameBook(tmp_path)
    first = book.claim("é" * 200, "a")
    second = book.claim("é" * 200, "b")
    assert second.endswith(" (2)")
    assert len(first.encode()) <= 120 and len(second.encode()) <= 120


def test_namebook_is_thread_safe(tmp_path: Path) -> None:
    book = NameBook(tmp_path)
    results: list[str] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for n in range(50):
            stem = book.claim("Episode", f"{worker}-{n}")
            with lock:
                results.append(stem)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 400
    assert len({stem.casefold() for stem in results}) == 400


def test_inside_accepts_paths_in_the_folder(tmp_path: Path) -> None:
    assert inside(tmp_path, Path("note.md")) == (tmp_path / "note.md").resolve()
    assert inside(tmp_path, tmp_path / "sub" / "x.md") == (tmp_path / "sub" / "x.md").resolve()


@pytest.mark.parametrize("path", ["../escape.md", "a/../../escape.md", "/etc/passwd", ".", ""])
def test_inside_rejects_escapes(tmp_path: Path, path: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(OutputError, match="outside the output folder"):
        inside(folder, Path(path))


def test_inside_rejects_symlink_escape(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, folder / "link")
    os.symlink(tmp_path / "secret.txt", folder / "note.md")
    with pytest.raises(OutputError):
        inside(folder, Path("link/x.md"))
    with pytest.raises(OutputError):
        inside(folder, Path("note.md"))


def test_inside_follows_a_symlinked_output_folder(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    alias = tmp_path / "alias"
    os.symlink(real, alias)
    assert inside(alias, Path("n.md")) == real / "n.md"
