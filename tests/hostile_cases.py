"""The table of hostile inputs: how to build each one and how its item must end."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import openpyxl

from tests.mediagen import write_tone

SECRET = "Pa55w0rd-never-shown"
INJECTIONS = ("=cmd|' /C calc'!A0", "+SUM(1)", "@x", "-1+2")
LONG_TITLE = "Long " + "x" * 995


@dataclass
class Kit:
    """The workspace a run starts in (its cwd), with real tones copied from a small cache."""

    root: Path
    cache: Path
    host_root: Path
    host_url: str = ""
    argv_extra: list[str] = field(default_factory=list)

    def path(self, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def tone(self, rel: str, freq: int = 440) -> Path:
        """A one-second tone at ``rel``; the container follows the suffix."""
        cached = self.cache / f"{freq}{Path(rel).suffix}"
        if not cached.exists():
            write_tone(cached, 1.0, freq, video=cached.suffix == ".mp4")
        return Path(shutil.copyfile(cached, self.path(rel)))

    def write(self, rel: str, data: bytes | str) -> str:
        path = self.path(rel)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return rel

    def table(self, rel: str, rows: list[list[str]], encoding: str = "utf-8") -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        return self.write(rel, buffer.getvalue().encode(encoding))

    def titled(self, rel: str, *titles: str, encoding: str = "utf-8") -> str:
        """A CSV giving each title to its own tone file (distinct files, so none is a duplicate)."""
        stem = Path(rel).stem
        rows = [["url", "title"]]
        for n, title in enumerate(titles):
            rows.append([str(self.tone(f"titled/{stem}-{n}.wav").relative_to(self.root)), title])
        return self.table(rel, rows, encoding)


@dataclass(frozen=True)
class Expect:
    """How one item ends: its state, and a text in its message (or, when done, its transcript)."""

    state: str
    message: str = ""
    title: str | None = None


def failed(message: str) -> Expect:
    return Expect("failed", message)


def done(title: str | None = None, heard: str = "hertz") -> Expect:
    return Expect("done", heard, title)


@dataclass(frozen=True)
class Case:
    """One hostile input: ``build`` makes it and returns the argument naming it (cwd-relative)."""

    name: str
    build: Callable[[Kit], str]
    expect: tuple[Expect, ...]


def media(name: str, rel: str, make: Callable[[Kit, str], str], *expect: Expect) -> Case:
    """A case whose input is one file under media/, made by ``make(kit, path)``."""
    return Case(name, lambda kit: make(kit, f"media/{rel}"), expect)


def typed(name: str, text: str, *expect: Expect) -> Case:
    """A case whose input is an argument exactly as a person typed it."""
    return Case(name, lambda kit: text, expect)


def titled(name: str, *titles: str) -> Case:
    """A case giving each title, through a CSV title column, to its own tone file."""
    slug = "-".join(name.split())
    return Case(
        name, lambda kit: kit.titled(f"titles/{slug}.csv", *titles), tuple(map(done, titles))
    )


@dataclass(frozen=True)
class UsageCase:
    """An input that stops the whole run with exit code 2 before any work starts."""

    name: str
    build: Callable[[Kit], list[str]]
    message: str


# -- media files ----------------------------------------------------------------------------


def random_bytes(kit: Kit, rel: str) -> str:
    return kit.write(rel, random.Random(rel).randbytes(8192))


def no_samples(kit: Kit, rel: str, codec: str) -> str:
    """A valid container whose audio stream never receives a sample."""
    with av.open(str(kit.path(rel)), "w") as out:
        stream = out.add_stream(codec, rate=16000)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        out.start_encoding()
        for packet in stream.encode(None):
            out.mux(packet)
    return rel


def video_only(kit: Kit, rel: str) -> str:
    with av.open(str(kit.path(rel)), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for pts in range(10):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts = pts
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return rel


def truncated(kit: Kit, rel: str) -> str:
    data = kit.tone(rel).read_bytes()
    return kit.write(rel, data[: len(data) // 2])


def flipped_header(kit: Kit, rel: str) -> str:
    data = kit.tone(rel).read_bytes()
    return kit.write(rel, bytes(b ^ 0xFF for b in data[:64]) + data[64:])


def lying_wav(kit: Kit, rel: str) -> str:
    """A WAV whose RIFF and data sizes claim about two gigabytes (18 hours) but hold one second."""
    data = kit.tone(rel).read_bytes()
    at = data.index(b"data")
    huge = struct.pack("<I", 0x7FFFFF00)
    return kit.write(rel, data[:4] + huge + data[8 : at + 4] + huge + data[at + 8 :])


def empty_wav(kit: Kit, rel: str) -> str:
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", 0)
    return kit.write(rel, header)


CORRUPT = "not a media file or corrupt"


def tone_at(freq: int) -> Callable[[Kit, str], str]:
    return lambda kit, rel: str(kit.tone(rel, freq).relative_to(kit.root))


def no_samples_in(codec: str) -> Callable[[Kit, str], str]:
    return lambda kit, rel: no_samples(kit, rel, codec)


def nothing(kit: Kit, rel: str) -> str:
    return kit.write(rel, b"")


def prose(kit: Kit, rel: str) -> str:
    return kit.write(rel, "meeting notes\n" * 40)


def old_excel(kit: Kit, rel: str) -> str:
    return kit.write(rel, b"\xd0\xcf\x11\xe0 not really a workbook")


MEDIA_CASES = [
    media("empty file named .mp3", "empty.mp3", nothing, failed("empty file: empty.mp3")),
    media("random bytes named .wav", "noise.wav", random_bytes, failed(f"{CORRUPT}: noise.wav")),
    media("random bytes named .mp4", "noise.mp4", random_bytes, failed(f"{CORRUPT}: noise.mp4")),
    media("text renamed .m4a", "notes.m4a", prose, failed(f"{CORRUPT}: notes.m4a")),
    media("wav, no samples", "silent.wav", no_samples_in("pcm_s16le"), failed("no audio decoded")),
    media("m4a, no samples", "silent.m4a", no_samples_in("aac"), failed("no audio track")),
    media("wav header, zero data", "header.wav", empty_wav, failed("no audio decoded: header.wav")),
    media(
        "video without audio", "mute.mp4", video_only, failed("no audio track in video: mute.mp4")
    ),
    media("mp4 cut in half", "half.mp4", truncated, failed(f"{CORRUPT}: half.mp4")),
    # MP3 is a stream of frames: the first half still plays, so it is transcribed.
    media("mp3 cut in half", "half.mp3", truncated, done("half")),
    media("m4a header flipped", "flipped.m4a", flipped_header, failed(f"{CORRUPT}: flipped.m4a")),
    media("wav header flipped", "flipped.wav", flipped_header, failed(f"{CORRUPT}: flipped.wav")),
    media("ogg header flipped", "flipped.ogg", flipped_header, failed(f"{CORRUPT}: flipped.ogg")),
    # With its file-type box gone FFmpeg still finds the video track, but not the audio.
    media("mp4 header flipped", "flipped.mp4", flipped_header, failed("flipped.mp4")),
    # MP3 decoders resynchronise on the next frame, so a damaged start costs milliseconds.
    media("mp3 header flipped", "flipped.mp3", flipped_header, done("flipped")),
    media("wav claiming 2 GB of data", "liar.wav", lying_wav, done("liar")),
    media("real video with audio", "clip.mp4", tone_at(330), done("clip", "tone 330 hertz")),
    typed("missing file", "media/gone.mp3", failed("file not found: media/gone.mp3")),
    media("old Excel file as input", "sheet.xls", old_excel, failed("save it as .xlsx or .csv")),
]

# -- odd URLs -------------------------------------------------------------------------------


def file_url(kit: Kit) -> str:
    return (kit.root / kit.tone("media/by-url.wav", 550)).as_uri()


def secret_url(kit: Kit, name: str) -> str:
    """A host URL with a password in it; without a name, a page the host answers with 404."""
    if not name:
        return kit.host_url.replace("http://", f"http://listener:{SECRET}@") + "/status/404"
    write_tone(kit.host_root / name, 1.0, 660)
    return kit.host_url.replace("http://", f"http://listener:{SECRET}@") + f"/media/{name}"


def secret_row(kit: Kit) -> str:
    return kit.table(
        "lists/secret.csv", [["url", "title"], [secret_url(kit, "row.mp3"), "Private feed"]]
    )


SCHEME = "unsupported URL scheme"

URL_CASES = [
    Case("file: URL to a real file", file_url, (done("by-url", "tone 550 hertz"),)),
    typed(
        "file: URL to nothing", "file:///nowhere/a.mp3", failed("file not found: /nowhere/a.mp3")
    ),
    typed("file: URL on another host", "file://server/a.mp3", failed("another computer")),
    typed("javascript: URL", "javascript:alert(1)", failed(f"{SCHEME} 'javascript:'")),
    typed("data: URL", "data:audio/mpeg;base64,SUQzAwAAAAAA", failed(f"{SCHEME} 'data:'")),
    typed("ftp: URL", "ftp://ftp.example.invalid/a.mp3", failed(f"{SCHEME} 'ftp:'")),
    typed("mailto: URL", "mailto:host@example.invalid", failed(f"{SCHEME} 'mailto:'")),
    Case(
        "password in URL argument", lambda k: secret_url(k, "arg.mp3"), (done(None, "660 hertz"),)
    ),
    Case("password in a URL that fails", lambda k: secret_url(k, ""), (failed("404: Not Found"),)),
    Case("password in URL in a list", secret_row, (done("Private feed", "tone 660 hertz"),)),
]

# -- lists and spreadsheets -----------------------------------------------------------------


def bom_csv(kit: Kit) -> str:
    kit.tone("lists/bom.wav")
    return kit.write("lists/bom.csv", "\ufeffURL;Title\r\nbom.wav;Byte order mark\r\n".encode())


def duplicated_columns(kit: Kit) -> str:
    kit.tone("lists/first.wav")
    kit.tone("lists/second.wav")
    rows = [["url", "title", "url", "title"], ["first.wav", "First", "second.wav", "Second"]]
    return kit.table("lists/dupcols.csv", rows)


def xlsx_with(
    kit: Kit, rel: str, rows: Sequence[Sequence[str | None]], merge: tuple[str, ...] = ()
) -> str:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    for cells in merge:
        workbook.active.merge_cells(cells)
    workbook.save(kit.path(rel))
    return rel


def merged_cells(kit: Kit) -> str:
    for n in range(4):
        kit.tone(f"lists/merged-{n}.wav")
    rows: list[list[str | None]] = [
        ["url", "title"], ["merged-0.wav", "Shared title"], ["merged-1.wav", None],
        ["merged-2.wav", "Spans a URL"], [None, "Lost URL"],
    ]  # fmt: skip
    return xlsx_with(kit, "lists/merged.xlsx", rows, merge=("B2:B3", "A4:A5"))


def formulas_xlsx(kit: Kit) -> str:
    """A cached HYPERLINK (as a spreadsheet app saves it), one never calculated, and =1+1."""
    kit.tone("lists/linked.wav")
    kit.tone("lists/linked2.wav")
    rows = [["url", "title"], ['=HYPERLINK("linked.wav")', "Cached link"],
            ['=HYPERLINK("linked.wav")', "Never calculated"], ["linked2.wav", "=1+1"]]  # fmt: skip
    rel = xlsx_with(kit, "lists/formulas.xlsx", rows)
    path = kit.path(rel)
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    formula = '<c r="A2"><f>HYPERLINK("linked.wav")</f><v /></c>'
    assert formula in sheet, sheet
    cached = '<c r="A2" t="str"><f>HYPERLINK("linked.wav")</f><v>linked.wav</v></c>'
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(formula, cached).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return rel


def hidden_and_loops(kit: Kit) -> str:
    kit.tone("tree/a.wav")
    kit.tone("tree/.hidden.wav")
    kit.tone("tree/.cache/b.wav")
    os.symlink("..", kit.path("tree/sub/up"))  # a folder loop: tree/sub/up/sub/up/...
    os.symlink("loop.mp3", kit.path("tree/loop.mp3"))  # a file link pointing at itself
    os.symlink("gone.mp3", kit.path("tree/dead.mp3"))
    return "tree"


def hidden_only(kit: Kit) -> str:
    kit.tone("hidden/.secret.wav")
    os.symlink(".", kit.path("hidden/self"))
    return "hidden"


def self_list(kit: Kit) -> str:
    kit.tone("lists/listed.wav")
    return kit.write("lists/self.txt", "self.txt\nlists/self.txt\nlisted.wav\n")


def wrong_types(kit: Kit) -> str:
    kit.tone("lists/typed.wav")
    data = [42, None, ["typed.wav"], True, {"url": 5}, {"title": "No link"}, "typed.wav", 1.5]
    return kit.write("lists/typed.json", json.dumps(data))


def junk_lines(kit: Kit) -> str:
    kit.tone("lists/clean.wav")
    text = (
        "\ufeff# comment\r\n   \r\nclean.wav\r\nbad\x00name.mp3\r\nhttps://host.invalid/a b.mp3\r\n"
    )
    return kit.write("lists/junk.txt", text)


ACCENTED = "Café Müller: Señor ½"  # all of it exists in Latin-1
WIDE = "日本語 Ünïcödé 🎧"
ROW_FORMULA = "row 3: file not found: =1+1 (this looks like a spreadsheet formula"
NOT_LINK = 'expected a link (text) or an object with a "url" field, found'


def formulas_csv(kit: Kit) -> str:
    return kit.table(
        "lists/formula.csv", [["url", "t"], ['=HYPERLINK("a.mp3")', "x"], ["=1+1", "y"]]
    )


LIST_CASES = [
    Case("CSV with a byte-order mark", bom_csv, (done("Byte order mark"),)),
    Case("Latin-1 CSV", lambda k: k.titled("lists/latin1.csv", ACCENTED, encoding="latin-1"),
         (done(ACCENTED),)),
    Case("UTF-16 CSV", lambda k: k.titled("lists/utf16.csv", WIDE, encoding="utf-16"),
         (done(WIDE),)),
    Case("duplicated columns", duplicated_columns, (done("First"),)),
    Case("formulas in CSV", formulas_csv,
         (failed("formula.csv row 2: file not found"), failed(ROW_FORMULA))),
    Case("xlsx merged cells", merged_cells,
         (done("Shared title"), done("merged-1"), done("Spans a URL"),
          failed("merged.xlsx row 5: no URL or path"))),
    Case("xlsx formulas", formulas_xlsx,
         (done("Cached link"), failed("formulas.xlsx row 3: no URL or path"), done("linked2"))),
    Case("folder with hidden files and link loops", hidden_and_loops,
         (done("a"), failed("dead.mp3 points to gone.mp3, which is missing"),
          failed("loop.mp3 points to loop.mp3, which is missing or loops back"))),
    Case("folder with only hidden files", hidden_only,
         (failed("no audio or video files found in folder hidden"),)),
    Case("list naming itself", self_list,
         (failed("self.txt line 1: not an audio or video file: self.txt"),
          failed("line 2: not an audio or video file: lists/self.txt"), done("listed"))),
    Case("JSON list with wrong types", wrong_types,
         (failed(f"typed.json item 1: {NOT_LINK} a number"),
          failed(f"item 2: {NOT_LINK} null"), failed(f"item 3: {NOT_LINK} a list"),
          failed(f"item 4: {NOT_LINK} true/false"), failed("item 5: file not found: 5"),
          failed("item 6: no URL or path"), done("typed"), failed(f"item 8: {NOT_LINK} a number"))),
    Case("text list with junk lines", junk_lines,
         (done("clean"), failed("junk.txt line 4: contains a control character (U+0000)"),
          failed("line 5: URL contains a space"))),
]  # fmt: skip

TITLE_CASES = [
    titled("title climbing out with slashes", "../../etc/passwd"),
    titled("title climbing out with backslashes", "..\\..\\x"),
    titled("absolute path as title", "/etc/shadow"),
    titled("reserved names as titles", "CON", "nul.txt", "COM1"),
    titled("control characters in title", "bell\x07tab\there\x1b[31mred"),
    titled("bidi marks in title", "invoice\u202egnp.exe\u200f"),
    titled("zero-width characters in title", "zero\u200bwidth\u200d\ufeffjoin"),
    titled("1000-character title", LONG_TITLE),
    titled("duplicate titles", "Same Talk", "Same Talk", "same talk"),
    titled("emoji and CJK title", "🎙️ 播客 第1集 — ポッドキャスト 👩‍👩‍👧"),
    titled("CSV injection titles", *INJECTIONS),
    titled("titles naming the reports", "manifest", "items", "..."),
]

CASES = MEDIA_CASES + URL_CASES + LIST_CASES + TITLE_CASES


def usage(name: str, message: str, build: Callable[[Kit], list[str]]) -> UsageCase:
    return UsageCase(name, build, message)


def one_table(rel: str, *rows: list[str]) -> Callable[[Kit], list[str]]:
    return lambda kit: [kit.table(rel, list(rows))]


def one_file(rel: str, data: str) -> Callable[[Kit], list[str]]:
    return lambda kit: [kit.write(rel, data)]


NO_URL_XLSX = "nourl.xlsx has no URL column (found: 'Episode name', 'Guest')"

USAGE_CASES = [
    usage("CSV without a url column", "has no URL column (found: 'Name', 'Notes')",
          one_table("u/nourl.csv", ["Name", "Notes"], ["a", "b"])),
    usage("headerless CSV", "add a header row such as 'url'",
          one_table("u/bare.csv", ["https://example.invalid/a.mp3", "A"])),
    usage("xlsx without a url column", NO_URL_XLSX,
          lambda k: [xlsx_with(k, "u/nourl.xlsx", [["Episode name", "Guest"], ["x", "y"]])]),
    usage("--columns names a missing header", "no column named 'Address' (found: 'Link', 'Name')",
          lambda k: [k.table("u/cols.csv", [["Link", "Name"]]), "--columns", "url=Address"]),
    usage("--columns with an unknown field", "unknown field 'speaker'",
          lambda k: [k.table("u/cols2.csv", [["Link"]]), "--columns", "speaker=Link"]),
    usage("JSON object instead of a list", "must hold a JSON list of links or objects, not an",
          one_file("u/obj.json", '{"url": "a.mp3"}')),
    usage("broken JSON", "is not valid JSON", one_file("u/broken.json", '["a.mp3",')),
    usage("missing list file", "list file not found: u/missing.txt", lambda k: ["u/missing.txt"]),
    usage("random bytes named .xlsx", "is not a readable Excel workbook",
          lambda k: [random_bytes(k, "u/junk.xlsx")]),
    usage("empty CSV", "is empty: no header row", one_file("u/empty.csv", "\n\n")),
]  # fmt: skip
