"""The deAPI provider against the local deAPI: jobs by URL and by upload, polling, results, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import AuthError, LowBalance, ProviderError, RateLimited
from engine.providers.base import Chunk, takes_url
from engine.providers.deapi import DeapiTranscriber, url_endpoint
from tests.mediagen import write_tone
from tests.servers.deapi_api import DeapiServer, JobPlan

pytestmark = pytest.mark.timeout(60)
VIDEO = "https://www.youtube.com/watch?v=jNQXAC9IVRw"


@pytest.fixture
def api() -> Iterator[DeapiServer]:
    with DeapiServer() as server:
        yield server


def client(api: DeapiServer, key: str = "dk-test") -> DeapiTranscriber:
    return DeapiTranscriber(api.base, [key], poll_first=0.01, poll_cap=0.02)


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        (VIDEO, "vid2txt"),
        ("https://youtu.be/jNQXAC9IVRw", "vid2txt"),
        ("https://www.twitch.tv/videos/123", "vid2txt"),
        ("https://kick.com/some/videos/abc", "vid2txt"),
        ("https://x.com/someone/status/1", "vid2txt"),
        ("https://twitter.com/i/spaces/1nAKEERkeLbKL", "aud2txt"),
        ("https://podcasts.example.org/episode.mp3", None),
        ("https://notyoutube.com/watch?v=x", None),
        ("ftp://youtube.com/x", None),
    ],
)
def test_only_the_hosts_deapi_fetches_go_by_url(url: str, endpoint: str | None) -> None:
    assert url_endpoint(url) == endpoint
    fake = DeapiTranscriber("http://127.0.0.1:9", ["k"])
    assert takes_url(fake, url) is (endpoint is not None)
    assert takes_url(object(), url) is False  # engines without the ability take chunks


def test_a_slow_url_job_reports_progress_then_timed_segments(api: DeapiServer) -> None:
    api.plan_for = lambda source: JobPlan(polls=4, seconds=12.0)
    seen: list[float] = []
    ids: list[str | None] = []
    transcript = client(api).transcribe_url(
        VIDEO, on_progress=seen.append, on_submitted=ids.append, sleep=lambda s: None
    )
    assert seen == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert [(s.start, s.end) for s in transcript.segments] == [(0, 5), (5, 10), (10, 12)]
    assert transcript.segments[0].text == f"{VIDEO} part 1."
    assert len(ids) == 1 and ids[0] is not None
    assert api.submit_counts() == {VIDEO: 1}
    assert api.submits[0].endpoint == "vid2txt"


def test_a_result_behind_result_url_is_downloaded(api: DeapiServer) -> None:
    api.plan_for = lambda source: JobPlan(result="url", seconds=7.0)
    transcript = client(api).transcribe_url(VIDEO, sleep=lambda s: None)
    assert [(s.start, s.end) for s in transcript.segments] == [(0, 5), (5, 7)]


def test_a_result_url_that_fails_is_a_retryable_error_naming_it(api: DeapiServer) -> None:
    api.plan_for = lambda source: JobPlan(result="url-broken")
    with pytest.raises(ProviderError, match="result_url answered 404") as caught:
        client(api).transcribe_url(VIDEO, sleep=lambda s: None)
    assert caught.value.transient


def test_a_job_ending_in_error_gives_its_details_and_forgets_the_job(api: DeapiServer) -> None:
    api.plan_for = lambda source: JobPlan(outcome="error", error="Video unavailable in region")
    ids: list[str | None] = []
    with pytest.raises(ProviderError, match="Video unavailable in region") as caught:
        client(api).transcribe_url(VIDEO, on_submitted=ids.append, sleep=lambda s: None)
    assert not caught.value.transient
    assert ids[-1] is None  # a retry submits afresh instead of polling a dead job


def test_a_saved_request_is_polled_not_submitted_again(api: DeapiServer) -> None:
    api.plan_for = lambda source: JobPlan(hold=True)
    first = client(api)
    ids: list[str | None] = []
    with pytest.raises(RuntimeError):

        def crash(seconds: float) -> None:
            raise RuntimeError("the process dies while the job runs")

        first.transcribe_url(VIDEO, on_submitted=ids.append, sleep=crash)
    api.release()
    transcript = client(api).transcribe_url(VIDEO, resume_id=ids[0], sleep=lambda s: None)
    assert transcript.segments
    assert api.submit_counts() == {VIDEO: 1}


def test_a_saved_request_deapi_no_longer_knows_is_submitted_again(api: DeapiServer) -> None:
    transcript = client(api).transcribe_url(VIDEO, resume_id="gone", sleep=lambda s: None)
    assert transcript.segments
    assert api.submit_counts() == {VIDEO: 1}


def test_an_upload_goes_to_audiofile2txt_and_is_timed(api: DeapiServer, tmp_path: Path) -> None:
    path = write_tone(tmp_path / "chunk-000.flac", seconds=8.0)
    transcript = client(api).transcribe(Chunk(0, 0.0, 8.0, path), sleep=lambda s: None)
    assert api.submits[0].endpoint == "audiofile2txt"
    assert [s.end for s in transcript.segments] == pytest.approx([5.0, 8.0], abs=0.05)


def test_a_wrong_key_is_an_auth_error_that_pauses_the_batch(api: DeapiServer) -> None:
    with pytest.raises(AuthError, match=r"refused the key \(401\): Unauthorized user") as caught:
        client(api, key="wrong").transcribe_url(VIDEO, sleep=lambda s: None)
    assert caught.value.blocks


def test_a_validation_error_names_the_field(api: DeapiServer) -> None:
    with pytest.raises(ProviderError, match="422 validation.*video_url: The video url must") as c:
        client(api)._submit("vid2txt", "dk-test", None, json_body={"video_url": "https://a.b/c"})
    assert not c.value.transient


def test_a_429_carries_retry_after(api: DeapiServer) -> None:
    api.rpm = 1
    deapi = client(api)
    deapi.transcribe_url(VIDEO, sleep=lambda s: None)
    with pytest.raises(RateLimited) as caught:
        deapi.transcribe_url(VIDEO + "x", sleep=lambda s: None)
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60


def test_balance_is_read_and_a_low_one_pauses_before_submitting(api: DeapiServer) -> None:
    deapi = client(api)
    shown: list[float] = []
    deapi.on_balance = shown.append
    assert deapi.balance() == pytest.approx(5.0)
    api.balance = 0.3
    deapi._balance = None  # forget the cached balance, as after its time to live
    with pytest.raises(LowBalance, match=r"\$0.30, below the \$0.49") as caught:
        deapi.transcribe_url(VIDEO, sleep=lambda s: None)
    assert caught.value.blocks
    assert shown == [5.0, 0.3]
    assert api.submit_counts() == {}


def test_deapi_refusing_for_funds_is_a_low_balance_too(api: DeapiServer) -> None:
    deapi = client(api)
    deapi.balance()  # cached at $5 ...
    api.balance = 0.1  # ... then spent elsewhere
    with pytest.raises(LowBalance, match="lack of funds"):
        deapi.transcribe_url(VIDEO, sleep=lambda s: None)


def test_prices_by_url_and_by_length(api: DeapiServer) -> None:
    api.plan_for = lambda source: JobPlan(seconds=600.0)
    deapi = client(api)
    assert deapi.price_url(VIDEO) == pytest.approx(0.06)
    assert deapi.price_seconds(120) == pytest.approx(0.012)
    assert api.price_calls == 2


def test_a_job_that_never_finishes_fails_after_its_deadline_keeping_its_id(
    api: DeapiServer,
) -> None:
    api.plan_for = lambda source: JobPlan(hold=True)
    deapi = DeapiTranscriber(api.base, ["dk-test"], poll_first=0.01, job_deadline=0.0)
    ids: list[str | None] = []
    with pytest.raises(ProviderError, match="still (pending|processing) after"):
        deapi.transcribe_url(VIDEO, on_submitted=ids.append, sleep=lambda s: None)
    assert len(ids) == 1 and ids[0] is not None  # not forgotten: a later retry polls it


def test_a_saved_request_id_cannot_reach_another_endpoint(api: DeapiServer) -> None:
    # A tampered session must not turn a poll into a call elsewhere: the id is one path segment.
    transcript = client(api).transcribe_url(VIDEO, resume_id="../balance", sleep=lambda s: None)
    assert transcript.segments
    assert api.submit_counts() == {VIDEO: 1}  # unknown to deAPI (404), so submitted afresh


def test_a_job_resumed_on_another_worker_is_found_with_the_key_that_submitted_it() -> None:
    with DeapiServer(keys=("dk-one", "dk-two")) as api:
        ids: list[str | None] = []
        first = DeapiTranscriber(api.base, ["dk-one", "dk-two"], poll_first=0.01)
        api.plan_for = lambda source: JobPlan(hold=True)

        def crash(seconds: float) -> None:
            raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            first.transcribe_url(VIDEO, key_index=1, on_submitted=ids.append, sleep=crash)
        api.release()
        again = DeapiTranscriber(api.base, ["dk-one", "dk-two"], poll_first=0.01)
        transcript = again.transcribe_url(
            VIDEO, key_index=0, resume_id=ids[0], sleep=lambda s: None
        )
    assert transcript.segments
    assert api.submit_counts() == {VIDEO: 1}
