"""The brake's arithmetic and its place in authentication, with a clock the test moves."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from graphql_api.core.auth import Authenticator
from graphql_api.core.brake import LocalBrake, brake_keys
from graphql_api.errors import TooManyRequests, Unauthenticated
from graphql_api.settings import Settings

ADMIN_KEY = "unit-brake-admin-key-0123456789abcdef0123"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_allowance_is_used_up_then_refills_one_failure_at_a_time() -> None:
    clock = Clock()
    brake = LocalBrake(failures=10, window_seconds=60, clock=clock)
    keys = ("address:a",)
    for _ in range(10):
        await brake.check(keys)
        await brake.failed(keys)
    with pytest.raises(TooManyRequests) as braked:
        await brake.check(keys)
    assert braked.value.retry_after == 6  # one failure's worth refills in 60 / 10 s
    clock.now += 5.9
    with pytest.raises(TooManyRequests):
        await brake.check(keys)
    clock.now += 0.2
    await brake.check(keys)  # one more attempt
    await brake.failed(keys)
    with pytest.raises(TooManyRequests):
        await brake.check(keys)
    clock.now += 60
    for _ in range(10):  # drained: the whole allowance again
        await brake.check(keys)
        await brake.failed(keys)


async def test_any_used_up_key_brakes_and_others_are_untouched() -> None:
    brake = LocalBrake(failures=2, window_seconds=60, clock=Clock())
    await brake.failed(("address:a", "api-key:abcdefgh"))
    await brake.failed(("address:b", "api-key:abcdefgh"))
    with pytest.raises(TooManyRequests):
        await brake.check(("address:c", "api-key:abcdefgh"))
    await brake.check(("address:a", "api-key:zzzzzzzz"))


async def test_the_table_is_bounded_forgetting_who_failed_longest_ago() -> None:
    clock = Clock()
    brake = LocalBrake(failures=1, window_seconds=60, max_keys=3, clock=clock)
    for name in "abcd":
        clock.now += 1
        await brake.failed((f"address:{name}",))
    await brake.check(("address:a",))  # forgotten
    for name in "bcd":
        with pytest.raises(TooManyRequests):
            await brake.check((f"address:{name}",))


def test_api_keys_count_per_address_and_prefix_jwts_per_address_only() -> None:
    assert brake_keys("Bearer secret-key-123", "10.0.0.1") == ("address:10.0.0.1", "api-key:secret-k")
    assert brake_keys("Bearer aaa.bbb.ccc", "10.0.0.1") == ("address:10.0.0.1",)


def _authenticator(failures: int = 3) -> Authenticator:
    settings = Settings(
        livekit_api_key="k",
        livekit_api_secret=SecretStr("s" * 32),
        admin_key=SecretStr(ADMIN_KEY),
        auth_brake_failures=failures,
    )
    return Authenticator(settings)


async def test_failures_from_a_client_brake_it_the_right_key_included() -> None:
    auth = _authenticator()
    for i in range(3):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(f"Bearer {i}-wrong-key", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        await auth.authenticate(f"Bearer {ADMIN_KEY}", "10.0.0.1")
    assert (await auth.authenticate(f"Bearer {ADMIN_KEY}", "10.0.0.2")).is_admin


async def test_no_credential_and_no_client_are_not_counted() -> None:
    auth = _authenticator()
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(None, "10.0.0.1")
        with pytest.raises(Unauthenticated):
            await auth.authenticate("Bearer wrong-key", None)
    assert (await auth.authenticate(f"Bearer {ADMIN_KEY}", "10.0.0.1")).is_admin
