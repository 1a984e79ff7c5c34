"""A bulkscribe process killed (SIGKILL) after deAPI accepted a job: the resume polls that job,
it never pays for a second one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.items import State
from tests.servers.deapi_api import DeapiServer, JobPlan
from tests.test_crash_safety import ROOT, Homes, bulkscribe, wait_until
from tests.test_deapi_batch import VIDEOS, RecordingProxy

pytestmark = pytest.mark.timeout(90)


def test_a_kill_after_submit_resumes_the_same_job_without_submitting_again(
    tmp_path: Path,
) -> None:
    homes = Homes(tmp_path)
    out = tmp_path / "out"
    proxy = RecordingProxy()
    env = homes.env() | {
        "HTTPS_PROXY": proxy.url,
        "HTTP_PROXY": proxy.url,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.pop("DEAPI_API_KEY", None)
    held = VIDEOS[0]
    try:
        with DeapiServer() as api:
            released: list[bool] = []
            # Only the first run's job is held: a second submit would finish and be counted.
            api.plan_for = lambda source: JobPlan(hold=source == held and not released, polls=0)
            argv = bulkscribe(
                "--headless", "--asr", "deapi", "--api-base", api.base, "--api-key", "dk-test",
                "--no-captions", "--output", str(out), held, VIDEOS[1],
            )  # fmt: skip
            with (tmp_path / "run.err").open("w") as err:
                process = subprocess.Popen(
                    argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err
                )
            try:
                # Killed once the job is paid for and being polled: the id must be on disk by now.
                wait_until(lambda: api.submit_counts()[held] == 1, what="the job submitted")
                polls = api.status_polls
                wait_until(lambda: api.status_polls >= polls + 2, what="the job polled")
                process.kill()
                process.wait(10)
            finally:
                if process.poll() is None:
                    process.kill()
            assert process.returncode == -9
            assert api.submit_counts() == {held: 1}

            released.append(True)
            api.release()
            resumed = subprocess.run(
                bulkscribe("--resume", "--headless", "--api-key", "dk-test"),
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert resumed.returncode == 0, resumed.stderr
            assert "Traceback" not in resumed.stderr
            assert api.submit_counts() == {held: 1, VIDEOS[1]: 1}
    finally:
        proxy.close()
    assert proxy.seen == []
    with homes.store() as store:
        (info,) = store.sessions()
        items = store.load_items(info.id)
    assert [item.state for item in items] == [State.DONE, State.DONE]
    notes = sorted(p.read_text(encoding="utf-8") for p in out.glob("*.md"))
    assert len(notes) == 2
    assert any(f"{held} part 1." in text for text in notes)
