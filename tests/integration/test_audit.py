"""The audit trail against a real LiveKit, on SQLite and on PostgreSQL: acts through both faces are rows with
the right actor, face, result and request id; moderators read only their rooms; paging returns each row once;
PostgreSQL stopped makes moderation writes a 503 while reads and tokens go on, and loses nothing acknowledged;
a service on SQLite killed with SIGKILL mid-load loses no acknowledged row."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.harness.livekit_server import LiveKitServer
from tests.harness.postgres_server import PostgresServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

SECRET = "audit-test-idp-secret-0123456789abcdef"


def bearer(uid: str, roles: list[str], rooms: list[str] | None = None) -> dict[str, str]:
    claims: dict[str, Any] = {"sub": uid, "roles": roles, "exp": int(time.time()) + 600}
    if rooms is not None:
        claims["rooms"] = rooms
    return {"authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}", "accept-language": "en"}


ADMIN = bearer("root", ["admin"])


def settings(livekit: LiveKitServer, **overrides: str) -> dict[str, str]:
    return service_settings(livekit, GXRTC_AUTH_JWT_SECRET=SECRET, **overrides)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_service(request: pytest.FixtureRequest, livekit_server: LiveKitServer) -> Iterator[Service]:
    overrides = {}
    if request.param == "postgresql":
        overrides["GXRTC_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    with run_service(settings(livekit_server, **overrides)) as service:
        yield service


async def audit_rows(
    client: httpx.AsyncClient, headers: dict[str, str], path: str = "/api/v1/audit", **query: Any
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        events.extend(data["events"])
        cursor = data["next_cursor"]
        if cursor is None:
            return events


async def test_acts_through_both_faces_are_rows_and_moderators_read_only_their_rooms(
    store_service: Service, room_name: str
) -> None:
    other = f"{room_name}-other"
    moderator = bearer("mod", ["moderator"], [room_name])
    async with httpx.AsyncClient(base_url=store_service.base_url, timeout=15) as client:
        created = await client.post("/api/v1/room", data={"room": room_name}, headers={**ADMIN, "x-request-id": "r-1"})
        assert created.status_code == 200, created.text
        assert created.headers["x-request-id"] == "r-1"
        await client.post("/api/v1/room", data={"room": other}, headers=ADMIN)
        mutation = 'mutation($room: String!) { createToken(room: $room, identity: "guest") { url } }'
        minted = await client.post(
            "/graphql",
            json={"query": mutation, "variables": {"room": room_name}},
            headers={**moderator, "x-request-id": "g-1"},
        )
        assert minted.headers["x-request-id"] == "g-1"
        assert "errors" in minted.json()  # a moderator mints only for itself: refused, and a row
        kick = await client.delete(
            f"/api/v1/room/{room_name}/participant/ghost", headers={**moderator, "x-request-id": "r-2"}
        )
        assert kick.status_code == 404
        assert kick.headers["x-request-id"] == "r-2"
        refused = await client.delete(f"/api/v1/room/{other}", headers={**moderator, "x-request-id": "r-3"})
        assert refused.status_code == 403
        own = await client.post("/api/v1/room/token", data={"room": room_name, "uid": "mod"}, headers=moderator)
        assert own.status_code == 200
        assert len(own.headers["x-request-id"]) == 32  # made for a caller who sent none

        rows = await audit_rows(client, ADMIN)
        mine = {row["request_id"]: row for row in rows if row["room"] in (room_name, other)}
        assert {k: (v["actor"], v["actor_role"], v["face"], v["action"], v["result"]) for k, v in mine.items()
                if k in ("r-1", "g-1", "r-2", "r-3")} == {
            "r-1": ("root", "admin", "rest", "create_room", "ok"),
            "g-1": ("mod", "moderator", "graphql", "create_token", "forbidden"),
            "r-2": ("mod", "moderator", "rest", "kick", "participant not found"),
            "r-3": ("mod", "moderator", "rest", "delete_room", "forbidden"),
        }  # fmt: skip
        assert not [row for row in rows if row["action"] == "create_token" and row["identity"] == "mod"]

        # The moderator reads its room's rows, on both faces, and no other room's.
        assert {row["room"] for row in await audit_rows(client, moderator)} == {room_name}
        assert {row["room"] for row in await audit_rows(client, moderator, f"/api/v1/room/{room_name}/audit")} == {
            room_name
        }
        forbidden = await client.get(f"/api/v1/room/{other}/audit", headers=moderator)
        assert forbidden.status_code == 403
        assert forbidden.json()["meta"]["error"] == "forbidden"
        query = "query($room: String) { auditLog(room: $room) { edges { node { room face requestId } } } }"
        answer = (await client.post("/graphql", json={"query": query}, headers=moderator)).json()
        assert {edge["node"]["room"] for edge in answer["data"]["auditLog"]["edges"]} == {room_name}
        answer = (
            await client.post("/graphql", json={"query": query, "variables": {"room": other}}, headers=moderator)
        ).json()
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        user = await client.get("/api/v1/audit", headers=bearer("alice", ["user"]))
        assert user.status_code == 403
        bad = await client.get("/api/v1/audit", params={"cursor": "not-a-cursor"}, headers=ADMIN)
        assert bad.status_code == 400
        assert "cursor" in bad.json()["meta"]["message"]


async def test_paging_returns_each_row_once_on_both_faces(store_service: Service, room_name: str) -> None:
    async with httpx.AsyncClient(base_url=store_service.base_url, timeout=15) as client:
        for n in range(23):
            minted = await client.post("/api/v1/room/token", data={"room": room_name, "uid": f"u{n}"}, headers=ADMIN)
            assert minted.status_code == 200
        rest = await audit_rows(client, ADMIN, f"/api/v1/room/{room_name}/audit", limit=5)
        assert sorted(row["identity"] for row in rest) == sorted(f"u{n}" for n in range(23))
        ids = [row["id"] for row in rest]
        assert ids == sorted(set(ids), reverse=True)

        query = """query($room: String!, $after: String) { auditLog(room: $room, first: 4, after: $after) {
            edges { cursor node { id identity at } } pageInfo { hasNextPage endCursor } } }"""
        seen: list[str] = []
        after = None
        while True:
            answer = await client.post(
                "/graphql", json={"query": query, "variables": {"room": room_name, "after": after}}, headers=ADMIN
            )
            connection = answer.json()["data"]["auditLog"]
            seen.extend(edge["node"]["id"] for edge in connection["edges"])
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert seen == [str(i) for i in ids]


async def _acts(client: httpx.AsyncClient, room: str, count: int, outcomes: dict[str, int]) -> None:
    """Tokens minted for others, one after another, each with its own request id; what each was answered."""
    for _ in range(count):
        request_id = uuid.uuid4().hex
        try:
            response = await client.post(
                "/api/v1/room/token",
                data={"room": room, "uid": f"u-{request_id[:8]}"},
                headers={**ADMIN, "x-request-id": request_id},
            )
            outcomes[request_id] = response.status_code
        except httpx.TransportError:  # the service is gone: this act is unacknowledged, and so are any later
            outcomes[request_id] = 0
            return


async def test_postgresql_stopped_moderation_answers_503_reads_go_on_and_nothing_acknowledged_is_lost(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    with PostgresServer() as postgres:
        url = postgres.create_database()
        with run_service(
            settings(livekit_server, GXRTC_DATABASE_URL=url, GXRTC_DATABASE_TIMEOUT_SECONDS="1")
        ) as service:
            async with httpx.AsyncClient(base_url=service.base_url, timeout=15) as client:
                outcomes: dict[str, int] = {}
                load = asyncio.create_task(_acts(client, room_name, 10_000, outcomes))
                await asyncio.sleep(1)
                postgres.kill()
                await asyncio.sleep(1)
                started = time.monotonic()
                write = await client.post("/api/v1/room", data={"room": room_name}, headers=ADMIN)
                assert write.status_code == 503
                assert write.json()["meta"]["error"] == "database unavailable"
                assert time.monotonic() - started < 5  # the 1 s deadline, not a hang
                own = await client.post("/api/v1/room/token", data={"room": room_name, "uid": "root"}, headers=ADMIN)
                assert own.status_code == 200
                assert (await client.get("/api/v1/room", headers=ADMIN)).status_code == 200
                await asyncio.to_thread(postgres.restart)
                await asyncio.sleep(1)
                load.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await load
                assert (await client.post("/api/v1/room", data={"room": room_name}, headers=ADMIN)).status_code == 200
                rows = await audit_rows(client, ADMIN, f"/api/v1/room/{room_name}/audit", limit=500)
    acknowledged = {request_id for request_id, status in outcomes.items() if status == 200}
    assert {503} <= set(outcomes.values()) <= {0, 200, 503}
    assert len(acknowledged) > 5
    assert acknowledged <= {row["request_id"] for row in rows}


def test_sqlite_killed_with_sigkill_mid_load_loses_no_acknowledged_row(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="gxrtc-sigkill-"))
    outcomes: dict[str, int] = {}

    async def load(service: Service) -> None:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=5) as client:
            tasks = [asyncio.create_task(_acts(client, room_name, 10_000, outcomes)) for _ in range(4)]
            await asyncio.sleep(2)
            service.process.kill()  # SIGKILL: no shutdown, no flush
            await asyncio.gather(*tasks, return_exceptions=True)

    with run_service(settings(livekit_server, GXRTC_STATE_DIR=str(state_dir))) as service:
        asyncio.run(load(service))
        service.process.wait(timeout=10)
    with sqlite3.connect(state_dir / "gxrtc.sqlite3") as database:
        stored = {request_id for (request_id,) in database.execute("SELECT request_id FROM audit_events")}
    acknowledged = {request_id for request_id, status in outcomes.items() if status == 200}
    assert len(acknowledged) > 20
    assert acknowledged <= stored
