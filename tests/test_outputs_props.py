"""Properties: any title yields a safe file name inside the folder; frontmatter always round-trips."""

from __future__ import annotations

import re
import tempfile
import unicodedata
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.outputs import NameBook, TranscriptDoc, render, safe_stem, write_outputs
from engine.outputs.markdown import extra_keys
from engine.segments import Segment

# Fixed seed and no example database: the suite is deterministic and writes nothing into the tree.
FAST = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

any_text = st.text(st.characters(codec="utf-8"), max_size=300)
# Titles people paste, weighted towards the characters that break file names and YAML.
nasty = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("/\\:*?\"<>|.\x00\n\t \u202e\u200b\ufeff\u2028#-&!%@`'{}[]")),
    ),
    max_size=200,
)
titles = st.one_of(
    any_text, nasty, st.sampled_from(["CON", "con.txt", "..", "LPT1 ", "nul.tar.gz"])
)
SEPARATORS = set('/\\:*?"<>|')
RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9¹²³]|LPT[1-9¹²³])(\.|$)", re.IGNORECASE)


@FAST
@given(title=titles, max_len=st.integers(min_value=8, max_value=255))
def test_safe_stem_is_always_a_safe_name(title: str, max_len: int) -> None:
    stem = safe_stem(title, max_len=max_len)
    assert stem and stem not in (".", "..")
    assert not SEPARATORS & set(stem)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in stem)
    assert len(stem.encode("utf-8")) <= max_len
    assert stem == stem.strip(" .")
    assert not RESERVED.match(stem)


@settings(FAST, max_examples=50)  # real files with fsync: slower per example
@given(title=titles)
def test_written_file_lands_inside_the_folder(title: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "out"
        stem = NameBook(folder).claim(title, "key")
        doc = TranscriptDoc(source="s", url=None, title=title, segments=(Segment(0, 1, "x"),))
        paths = write_outputs(doc, folder, stem, ["md", "json"])
        assert {p.parent for p in paths.values()} == {folder.resolve()}
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"{stem}.{f}" for f in ("json", "md")
        )


@FAST
@given(st.lists(titles, min_size=1, max_size=20))
def test_namebook_stems_are_unique_and_stable(many: list[str]) -> None:
    book = NameBook(Path("/nonexistent-output-folder"))
    stems = [book.claim(title, str(i)) for i, title in enumerate(many)]
    assert len({s.casefold() for s in stems}) == len(stems)
    assert [book.claim("other", str(i)) for i in range(len(many))] == stems


yaml_text = st.text(st.characters(codec="utf-8"), max_size=80)


@FAST
@given(
    title=titles,
    tags=st.lists(yaml_text, max_size=5),
    extras=st.dictionaries(yaml_text, yaml_text, max_size=6),
)
def test_frontmatter_parses_back_to_the_same_values(
    title: str, tags: list[str], extras: dict[str, str]
) -> None:
    doc = TranscriptDoc(source="src", url=None, title=title, tags=tuple(tags), extras=extras)
    note = render(doc, "md")
    assert note.startswith("---\n")
    head, separator, body = note[4:].partition("\n---\n")
    assert separator and body.startswith("\n# ")
    fields = yaml.safe_load(head)
    assert fields["title"] == title
    assert fields["tags"] == tags
    names = extra_keys(extras)
    assert {key: fields[names[key]] for key in extras} == extras
    assert fields["source"] == "src"


@FAST
@given(st.lists(st.tuples(st.floats(-10, 5000), st.floats(-10, 5000), any_text), max_size=15))
def test_subtitles_always_parse_as_cues(raw: list[tuple[float, float, str]]) -> None:
    segments = tuple(Segment(a, b, text) for a, b, text in raw)
    srt = render(TranscriptDoc(source="s", url=None, title="t", segments=segments), "srt")
    time_line = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})$")
    blocks = [b for b in srt.split("\n\n") if b]
    for number, block in enumerate(blocks, start=1):
        index, times, *text = block.split("\n")
        assert index == str(number)
        match = time_line.match(times)
        assert match
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
        assert (h1, m1, s1, ms1) < (h2, m2, s2, ms2)
        assert text and all(line.strip() and "-->" not in line for line in text)
    assert len(blocks) == sum(1 for s in segments if s.text.strip())
