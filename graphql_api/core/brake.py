"""A brake on guessing credentials: failed authentications counted per client address and per API key prefix.

Each key (a client address, or the first characters of an API key) has an
allowance of `failures` per `window_seconds` that refills continuously (a
leaky bucket). Once it is used up, every attempt under that key is refused
with 429 and a Retry-After until one attempt's worth has refilled, without
the credential being checked: a guesser must not learn from a 200 among the
429s that it has found the key. Refused attempts do not count (they guessed
nothing), and successes do not refill the allowance (a guesser holding some
valid credential could otherwise reset its own brake). A caller who sends no
credential at all guessed nothing either, and is not counted.

The address is the one uvicorn puts in the request: behind a proxy, set
uvicorn's `FORWARDED_ALLOW_IPS` to the proxy's address so that each client
behind it has its own allowance rather than all of them sharing the proxy's.

JWTs count per address only. Their signatures cannot be guessed, and an
allowance per issuer or key id would let anyone with forged tokens lock out
every user of that issuer.

`Brake` is what the authenticator needs; `LocalBrake` keeps the counts in
this process, `shared_brake.SharedBrake` counts failures in Redis for every
worker and instance and tells each of them which keys are braked, so that its
check stays in the process (docs/workers.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from ..errors import TooManyRequests

__all__ = ["Brake", "LocalBrake", "brake_keys"]

KEY_PREFIX_CHARS: Final = 8
"""How much of an API key names its allowance: enough to tell keys apart, far too little to help a guesser."""

_MAX_KEYS: Final = 100_000
"""Allowances remembered at once; the one that failed longest ago is forgotten first."""


class Brake(Protocol):
    """Asynchronous, so that an implementation may keep its counts elsewhere (Redis, for every worker)."""

    async def check(self, keys: Sequence[str]) -> None:
        """Raises TooManyRequests if any of `keys` has used up its allowance."""

    async def failed(self, keys: Sequence[str]) -> None:
        """Counts one failed authentication against each of `keys`."""

    async def aclose(self) -> None:
        """Lets go of what it holds (a connection)."""


def brake_keys(authorization: str, client: str) -> tuple[str, ...]:
    """The allowances an attempt with this Authorization header value draws on."""
    credential = authorization.split(None, 1)[-1].strip()
    if credential.count(".") == 2:
        return (f"address:{client}",)
    return (f"address:{client}", f"api-key:{credential[:KEY_PREFIX_CHARS]}")


class LocalBrake:
    def __init__(
        self,
        *,
        failures: int,
        window_seconds: float,
        max_keys: int = _MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(failures)
        self._rate = failures / window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._levels: dict[str, tuple[float, float]] = {}
        """Per key: failures not yet drained, and when that was computed."""

    async def check(self, keys: Sequence[str]) -> None:
        if not self._levels:  # the usual case: nobody has failed lately
            return
        now = self._clock()
        # One more attempt is allowed while a whole failure's room is left.
        highest = max(self._level(key, now) for key in keys)
        over = highest - (self._capacity - 1)
        if over > 0:
            retry_after = max(1, math.ceil(over / self._rate))
            raise TooManyRequests(
                f"too many failed authentications, try again in {retry_after} s", retry_after=retry_after
            )

    async def failed(self, keys: Sequence[str]) -> None:
        now = self._clock()
        levels = self._levels
        for key in keys:
            level = self._level(key, now) + 1
            # Re-inserted at the end, so the first entry is always the one that failed longest ago.
            levels.pop(key, None)
            if len(levels) >= self._max_keys:
                del levels[next(iter(levels))]
            levels[key] = (level, now)

    async def aclose(self) -> None:
        return None

    def _level(self, key: str, now: float) -> float:
        entry = self._levels.get(key)
        if entry is None:
            return 0.0
        level, at = entry
        level -= (now - at) * self._rate
        if level <= 0:
            del self._levels[key]
            return 0.0
        return level
