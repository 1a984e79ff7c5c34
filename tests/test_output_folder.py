"""An output folder belongs to one session: a second is refused, reports and files are never replaced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import NameTaken, OutputError, UsageError
from engine.outputs import TranscriptDoc, write_outputs
from engine.outputs.atomic import atomic_write
from engine.outputs.folder_lock import LOCK_NAME, FolderLock, reports_owner
from engine.outputs.names import NameBook
from engine.segments import Segment
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
from tests.test_crash_safety import (
    Homes,
    Started,
    api_flags,
    bulkscribe,
    frontmatter,
    make_tones,
    run,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)


def _hold_in_child(folder: Path, session: str) -> subprocess.Popen[str]:
    """Another process that takes the folder and sleeps with it, as a running bulkscribe does."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from engine.outputs.folder_lock import FolderLock\n"
        f"FolderLock(Path({str(folder)!r}), {session!r}).acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_session_is_refused_naming_the_holder_until_it_dies(tmp_path: Path) -> None:
    child = _hold_in_child(tmp_path, "20261201-101010-aaaa")
    try:
        with pytest.raises(UsageError) as refused:
            FolderLock(tmp_path, "20261201-111111-bbbb").acquire()
        text = refused.value.user_text
        assert f"in use by session 20261201-101010-aaaa (pid {child.pid})" in text
        assert "--output" in text
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    # The kernel dropped the dead holder's lock: the folder is free at once.
    with FolderLock(tmp_path, "20261201-111111-bbbb") as lock:
        assert lock.held
        assert json.loads((tmp_path / LOCK_NAME).read_text())["session"] == lock.session_id
    assert not (tmp_path / LOCK_NAME).exists()


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    with FolderLock(tmp_path, "one"), pytest.raises(UsageError, match="in use by session one"):
        FolderLock(tmp_path, "two").acquire()
    FolderLock(tmp_path, "two").acquire()


@pytest.mark.parametrize(
    ("manifest", "owner"),
    [
        ({"session": {"id": "20261130-090000-cafe", "name": "out"}, "items": []},
         "20261130-090000-cafe"),
        ({"session": {"name": "out"}, "items": []}, ""),  # written by hand or an older version
        ("{not json", ""),
    ],
)  # fmt: skip
def test_a_folder_with_another_sessions_reports_is_refused_untouched(
    tmp_path: Path, manifest: object, owner: str
) -> None:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (tmp_path / "manifest.json").write_text(text)
    (tmp_path / "items.csv").write_text("source\nx\n")
    assert reports_owner(tmp_path) == owner
    with pytest.raises(UsageError, match="holds the reports of") as refused:
        FolderLock(tmp_path, "20261201-120000-beef").acquire()
    if owner:
        assert f"bulkscribe --resume {owner}" in refused.value.user_text
    assert (tmp_path / "manifest.json").read_text() == text
    assert (tmp_path / "items.csv").read_text() == "source\nx\n"
    assert not (tmp_path / LOCK_NAME).exists()
    if owner:  # the owner itself may carry on in its own folder
        with FolderLock(tmp_path, owner):
            pass


def test_a_long_manifest_still_names_its_owner(tmp_path: Path) -> None:
    items = [{"source": f"https://example.test/{i}", "title": "x" * 200} for i in range(2000)]
    data = {"session": {"id": "20261130-090000-f00d"}, "counts": {}, "items": items}
    (tmp_path / "manifest.json").write_text(json.dumps(data, indent=2))
    assert reports_owner(tmp_path) == "20261130-090000-f00d"


@pytest.mark.parametrize("existing", ["file", "symlink", "folder"])
def test_a_fresh_name_never_replaces_what_is_there(tmp_path: Path, existing: str) -> None:
    target = tmp_path / "Talk.md"
    if existing == "file":
        target.write_text("another item's transcript")
    elif existing == "symlink":
        (tmp_path / "elsewhere.txt").write_text("keep me")
        target.symlink_to(tmp_path / "elsewhere.txt")
    else:
        target.mkdir()
    with pytest.raises(NameTaken):
        atomic_write(target, "mine", replace=False)
    if existing == "file":
        assert target.read_text() == "another item's transcript"
    elif existing == "symlink":
        assert target.is_symlink() and (tmp_path / "elsewhere.txt").read_text() == "keep me"
    else:
        assert target.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_name_taken_half_way_leaves_no_half_set(tmp_path: Path) -> None:
    (tmp_path / "Talk.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nnot mine\n")
    doc = TranscriptDoc(source="s", url=None, title="Talk", segments=(Segment(0, 1, "mine"),))
    with pytest.raises(NameTaken):
        write_outputs(doc, tmp_path, "Talk", ["md", "txt", "srt"], fresh=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Talk.srt"]
    assert "not mine" in (tmp_path / "Talk.srt").read_text()


def test_the_name_book_moves_on_when_its_name_was_taken(tmp_path: Path) -> None:
    book = NameBook(tmp_path)
    assert book.claim("Talk", "a") == "Talk" and not book.owns("a")
    book.forget("a")  # Talk.md appeared on disk before item a wrote it
    assert book.claim("Talk", "a") == "Talk (2)"
    book.written("a")
    assert book.owns("a") and book.claim("Talk", "a") == "Talk (2)"
    restored = NameBook(tmp_path, claimed={"b": "Old"})
    assert restored.owns("b")  # a resumed item may rewrite its own files


def _spoken_freqs(out: Path) -> dict[str, str]:
    """Markdown file name -> the transcript line in it."""
    found = {}
    for path in sorted(out.glob("*.md")):
        _, body = frontmatter(path.read_text(encoding="utf-8"))
        found[path.name] = " ".join(s for s in body.splitlines() if s.strip() and s[0] != "#")
    return found


def test_two_processes_into_one_folder_one_is_refused_and_nothing_is_mixed(
    tmp_path: Path,
) -> None:
    homes = Homes(tmp_path)
    out = tmp_path / "out"
    # Both sessions have files of the same names, so a shared folder would swap transcripts.
    tones_a = make_tones(tmp_path / "a", 5, first=2.0, step=0.5)
    (tmp_path / "b").mkdir()
    for name, freq in tones_a.items():  # b's tones sit 50 Hz above a's
        write_tone(tmp_path / "b" / name, 2.0, freq + 50, rate=8000)
    with OpenAIServer(latency=1.0) as api:
        flags = ["--headless", *api_flags(api), "--workers", "2", "--output", str(out)]
        first = Started(homes, bulkscribe(str(tmp_path / "a"), *flags), "a")
        second = Started(homes, bulkscribe(str(tmp_path / "b"), *flags), "b")
        try:
            wait_until(
                lambda: first.proc.poll() is not None or second.proc.poll() is not None,
                timeout=60,
                what="one of the two runs to be refused",
            )
            api.latency = 0.02
            codes = {"a": first.wait(60), "b": second.wait(60)}
        finally:
            first.kill()
            second.kill()
    refused = "a" if codes["a"] == 2 else "b"
    winner = "b" if refused == "a" else "a"
    assert sorted(codes.values()) == [0, 2], (codes, first.stderr, second.stderr)
    with homes.store() as store:
        (session,) = store.sessions()  # the refused run left no session behind
    loser_err = (first if refused == "a" else second).stderr
    assert f"is in use by session {session.id} (pid " in loser_err, loser_err
    assert "Traceback" not in loser_err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["session"]["id"] == session.id
    assert manifest["counts"] == {"done": 5}
    offset = 50 if winner == "b" else 0
    expected = {f"tone{i:02d}.md": f"tone {300 + 100 * i + offset} hertz" for i in range(5)}
    assert _spoken_freqs(out) == expected
    assert not (out / LOCK_NAME).exists()

    # Later, a new run into the folder meets the finished session's reports: refused, untouched.
    before = (out / "manifest.json").read_bytes(), (out / "items.csv").read_bytes()
    again = run(homes, bulkscribe(str(tmp_path / refused), "--headless", "--asr", "sphinx",
                                  "--output", str(out)))  # fmt: skip
    assert again.returncode == 2, again.stderr
    assert f"holds the reports of session {session.id}" in again.stderr
    assert f"bulkscribe --resume {session.id}" in again.stderr
    assert ((out / "manifest.json").read_bytes(), (out / "items.csv").read_bytes()) == before
    assert _spoken_freqs(out) == expected


def test_a_file_that_appears_under_an_items_name_mid_run_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_headless_e2e import api_flags as cli_api_flags
    from tests.test_headless_e2e import run_cli

    out = tmp_path / "out"
    media = write_tone(tmp_path / "talk.wav", 2.0, 440)

    def someone_else_writes(index: int) -> float:
        # Another program drops its own talk.md while our request is in flight.
        (out / "talk.md").write_text("someone else's notes\n")
        return 0.0

    with OpenAIServer(latency=someone_else_writes) as api:
        result = run_cli([str(media), *cli_api_flags(api, workers=1), "--formats", "md,txt"],
                         tmp_path, monkeypatch)  # fmt: skip
    assert result.code == 0, result.stderr
    assert (out / "talk.md").read_text() == "someone else's notes\n"
    (item,) = result.items
    assert item["outputs"] == {"md": "talk (2).md", "txt": "talk (2).txt"}
    assert "tone 440 hertz" in (out / "talk (2).txt").read_text()


@pytest.mark.parametrize("problem", ["a file", "under a file", "read-only"])
def test_an_unusable_output_folder_is_a_start_up_error(tmp_path: Path, problem: str) -> None:
    folder = tmp_path / "out"
    if problem == "a file":
        folder.write_text("not a folder")
    elif problem == "under a file":
        (tmp_path / "file").write_text("x")
        folder = tmp_path / "file" / "out"
    else:
        folder.mkdir()
        folder.chmod(0o500)
    try:
        if problem == "read-only" and os.access(folder, os.W_OK):
            pytest.skip("running as root: a read-only mode does not stop writes")
        with pytest.raises(UsageError):
            FolderLock(folder, "s1").acquire()
    finally:
        if folder.is_dir():
            folder.chmod(0o700)


def test_a_half_written_new_set_is_removed_so_the_retry_keeps_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    doc = TranscriptDoc(source="s", url=None, title="Talk", segments=(Segment(0, 1, "mine"),))
    real_replace = os.replace

    def full_at_srt(src: object, dst: object) -> None:
        if str(dst).endswith(".srt"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full_at_srt)
    with pytest.raises(OutputError, match="disk full"):
        write_outputs(doc, tmp_path, "Talk", ["md", "txt", "srt"], fresh=True)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(os, "replace", real_replace)
    paths = write_outputs(doc, tmp_path, "Talk", ["md", "txt", "srt"], fresh=True)
    assert sorted(p.name for p in paths.values()) == ["Talk.md", "Talk.srt", "Talk.txt"]
