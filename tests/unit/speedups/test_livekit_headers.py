"""livekit-api's admin header is signed once per set of grants every few minutes, and never shared between grants."""

from __future__ import annotations

import time
from typing import Any

import pytest

from graphql_api._speedups import livekit_headers


class Service:
    def __init__(self) -> None:
        self.signed: list[Any] = []

    def _auth_header(self, grants: Any, sip: Any = None) -> dict[str, str]:
        self.signed.append((grants, sip))
        return {"Authorization": f"Bearer {len(self.signed)}"}


def test_one_signature_per_grants_until_it_ages(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    service = Service()
    livekit_headers.reuse_auth_headers(service)
    first = service._auth_header({"roomAdmin": True, "room": "a"})
    assert service._auth_header({"roomAdmin": True, "room": "a"}) == first
    other = service._auth_header({"roomAdmin": True, "room": "b"})
    assert other != first
    assert len(service.signed) == 2
    now[0] += livekit_headers._AUTH_HEADER_SECONDS + 1
    assert service._auth_header({"roomAdmin": True, "room": "a"}) != first
    assert len(service.signed) == 3
