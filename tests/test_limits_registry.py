"""The registry of rate-limited services: limiters by name, key counts, pool keys, acquire."""

from __future__ import annotations

from engine.clock import ManualClock
from engine.limits.limiter import Limiter
from engine.limits.pools import INDEPENDENT, SHARED
from engine.limits.registry import Registry
from engine.limits.services import Service


def registry(keys: int = 1, mode: str = SHARED) -> Registry:
    limits = Registry()
    limits.add(Limiter(Service.MEDIA, "10/s", clock=ManualClock()))
    limits.add(Limiter(Service.ASR, "60/min", mode=mode, clock=ManualClock()), keys=keys)
    return limits


def test_limiters_are_found_by_service_name() -> None:
    limits = registry()
    assert limits[Service.ASR].service == "asr"
    assert limits[Service.MEDIA].service == "media"
    assert list(limits) == [Service.MEDIA, Service.ASR]
    assert Service.DEAPI_PRICE not in limits


def test_workers_share_an_api_key_pool_when_there_are_several_keys() -> None:
    limits = registry(keys=3)
    assert limits.key_counts == {"media": 1, "asr": 3}
    assert [limits.key_index(Service.ASR, worker) for worker in range(4)] == [0, 1, 2, 0]
    assert limits.pool_key(Service.ASR, 4) == "key-1"
    assert limits.pool_key(Service.ASR, 4, key=2) == "key-2"
    # One key (or none): each worker has its own pool in independent mode.
    assert limits.pool_key(Service.MEDIA, 4) == "worker-4"


def test_acquire_draws_from_the_workers_pool() -> None:
    limits = registry(keys=2, mode=INDEPENDENT)
    assert limits.acquire(Service.ASR, 3).key == "key-1"
    assert limits.acquire(Service.MEDIA, 3).key == SHARED
    assert limits[Service.ASR].granted == 1


def test_a_service_without_a_limiter_is_admitted_at_once() -> None:
    permit = registry().acquire(Service.DEAPI_PRICE, 0)
    assert (permit.service, permit.key, permit.waited) == ("deapi-price", SHARED, 0.0)


def test_a_registry_is_made_from_limiters_and_key_counts() -> None:
    media = Limiter(Service.MEDIA, "10/s", clock=ManualClock())
    asr = Limiter(Service.ASR, "60/min", clock=ManualClock())
    limits = Registry.of([media, asr], {Service.ASR: 2})
    assert dict(limits) == {"media": media, "asr": asr}
    assert limits.key_counts == {"media": 1, "asr": 2}
