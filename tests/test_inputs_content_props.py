"""Properties of reading lists and feeds: encodings per line, multi-link cells, durations, choices."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.inputs.cells import split_links
from engine.inputs.reading import decode_text
from engine.sources.episodes import EpisodeChoice
from engine.sources.feed_text import parse_duration

# Characters whose Windows-1252 bytes are all 0xC0 or above: a line holding one can never be read
# as UTF-8 by accident, so the decoder's choice per line is observable.
_ACCENTED = "éüñÀÖ"
_LINE = st.text(alphabet=st.sampled_from("abc XYZ019/.:-" + _ACCENTED), max_size=40).filter(
    lambda t: "\r" not in t and "\n" not in t
)
_ENCODED = st.lists(st.tuples(_LINE, st.sampled_from(["utf-8", "cp1252"])), max_size=12)


@settings(max_examples=150, deadline=None)
@given(_ENCODED, st.sampled_from(["\n", "\r\n", "\r"]))
def test_every_line_comes_back_whatever_its_encoding(
    lines: list[tuple[str, str]], newline: str
) -> None:
    data = newline.encode().join(text.encode(encoding) for text, encoding in lines)
    decoded = decode_text(data)
    assert "\ufffd" not in decoded
    back = decoded.split(newline) if lines else []
    assert back == [text for text, _ in lines] or (not lines and decoded == "")


_HOST = st.sampled_from(["cdn.example.org", "youtu.be", "media.example.net:8080"])
_PATH = st.text(alphabet=st.sampled_from("abcdef0123-_"), min_size=1, max_size=12)
_URL = st.builds(lambda h, p, ext: f"https://{h}/{p}{ext}", _HOST, _PATH,
                 st.sampled_from([".mp3", ".mp4", "", "?id=1,2"]))  # fmt: skip
_SEPARATOR = st.sampled_from([" ", "  ", ", ", ",", "; ", ";", "\n", " ;\n", "\t"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_URL, min_size=1, max_size=6), st.data())
def test_a_cell_of_links_splits_into_exactly_those_links(
    urls: list[str], data: st.DataObject
) -> None:
    cell = urls[0]
    for url in urls[1:]:
        cell += data.draw(_SEPARATOR) + url
    assert split_links(cell) == urls


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 30), st.integers(0, 59), st.integers(0, 59))
def test_clock_and_seconds_forms_of_a_duration_agree(
    hours: int, minutes: int, seconds: int
) -> None:
    total = hours * 3600 + minutes * 60 + seconds
    if total == 0:
        return
    forms = [str(total), f"{hours}:{minutes:02d}:{seconds:02d}", f"PT{hours}H{minutes}M{seconds}S"]
    if hours == 0:
        forms.append(f"{minutes}:{seconds:02d}")
    assert {parse_duration(form) for form in forms} == {float(total)}


_DAY = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_DAY, max_size=40),
    st.one_of(st.none(), _DAY),
    st.one_of(st.none(), st.integers(1, 50)),
    st.one_of(st.none(), st.tuples(st.integers(1, 30), st.integers(0, 10))),
)
def test_a_choice_takes_a_subset_in_listing_order_that_meets_every_filter(
    days: list[date], since: date | None, latest: int | None, span: tuple[int, int] | None
) -> None:
    episodes = list(enumerate(days, 1))  # (number, date)
    numbers = f"{span[0]}-{span[0] + span[1]}" if span else None
    choice = EpisodeChoice.parse(since.isoformat() if since else None, latest, numbers)
    if choice is None:
        assert since is None and latest is None and span is None
        return
    taken, undated = choice.apply(episodes, when=lambda e: e[1], number=lambda e: e[0])
    assert undated == 0
    positions = [episodes.index(e) for e in taken]
    assert positions == sorted(positions)  # listing order kept
    for number, day in taken:
        assert since is None or day >= since
        assert span is None or span[0] <= number <= span[0] + span[1]
    eligible = [
        e for e in episodes
        if (since is None or e[1] >= since)
        and (span is None or span[0] <= e[0] <= span[0] + span[1])
    ]  # fmt: skip
    assert len(taken) == (len(eligible) if latest is None else min(latest, len(eligible)))
    if latest is not None and taken:
        left_out = [e for e in eligible if e not in taken]
        assert all(e[1] <= min(d for _, d in taken) + timedelta(0) for e in left_out)
