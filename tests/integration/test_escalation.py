"""Self-escalation and reads past the policy, on both faces, against a production service
with an HS256 identity provider and real participants in a real LiveKit.

- A moderator may not grant through a permission change what it could not mint
  (hidden, own metadata, metrics, agent sessions), to itself or anyone else, through
  REST /permissions, REST /info's `permission` or GraphQL; taking grants away and
  giving back LiveKit's defaults stays moderation.
- A refused moderation act leaves its audit line with result `forbidden`.
- A plain user's `rooms` claim opens nothing: no listing, no nested participants,
  no single read, no subscription.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from livekit import api

from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.livekit_server import LiveKitServer
from tests.harness.participants import ParticipantPool
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

SECRET = "escalation-idp-secret-0123456789abcdef0123"
ADMIN_KEY = "escalation-admin-key-0123456789abcdef012345"
ROOM = f"escalation-{uuid.uuid4().hex[:8]}"

# What no moderator could put in a token it mints.
BEYOND_A_MODERATOR = ("hidden", "can_update_metadata", "can_subscribe_metrics", "can_manage_agent_session")
CAMEL = {
    "hidden": "hidden",
    "can_update_metadata": "canUpdateMetadata",
    "can_subscribe_metrics": "canSubscribeMetrics",
    "can_manage_agent_session": "canManageAgentSession",
    "can_publish": "canPublish",
}


def idp(sub: str, roles: list[str], rooms: list[str] | None = None) -> dict[str, str]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "roles": roles, "iat": now, "exp": now + 600}
    if rooms is not None:
        claims["rooms"] = rooms
    return {"authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}", "accept-language": "en"}


MODERATOR = idp("mx", ["moderator"], [ROOM])
ROOMS_CLAIM_USER = idp("carol", ["user"], [ROOM])
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}", "accept-language": "en"}


@pytest.fixture(scope="module")
def production(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server, GXRTC_ENV="production", GXRTC_AUTH_JWT_SECRET=SECRET, GXRTC_ADMIN_KEY=ADMIN_KEY
    )
    with run_service(settings) as service:
        yield service


@pytest.fixture
async def http(production: Service) -> Any:
    async with httpx.AsyncClient(base_url=production.base_url, timeout=15) as client:
        yield client


@pytest.fixture
async def joined(http: httpx.AsyncClient, participants: ParticipantPool, lkapi: api.LiveKitAPI) -> None:
    """The moderator itself and a guest, in the moderator's room."""
    await lkapi.room.create_room(api.CreateRoomRequest(name=ROOM))
    for uid in ("mx", "guest"):
        response = await http.post("/api/v1/room/token", data={"uid": uid, "room": ROOM}, headers=ADMIN)
        assert response.status_code == 200, response.text
        await participants.join(response.json()["data"]["access_token"])


async def permission_in_livekit(lkapi: api.LiveKitAPI, identity: str) -> Any:
    info = await lkapi.room.get_participant(api.RoomParticipantIdentity(room=ROOM, identity=identity))
    return info.permission


async def change(http: httpx.AsyncClient, face: str, identity: str, grant: dict[str, bool], headers: Any) -> int:
    """Ask for a permission change through one face; the HTTP status, or GraphQL's code as one."""
    if face == "rest /permissions":
        path = f"/api/v1/room/{ROOM}/participant/{identity}/permissions"
        response = await http.post(path, data={"permission": json.dumps(grant)}, headers=headers)
        return response.status_code
    if face == "rest /info":
        path = f"/api/v1/room/{ROOM}/participant/{identity}/info"
        response = await http.post(path, data={"permission": json.dumps(grant)}, headers=headers)
        return response.status_code
    fields = ", ".join(f"{CAMEL[key]}: {str(value).lower()}" for key, value in grant.items())
    query = (
        f'mutation {{ updateParticipantPermissions(room: "{ROOM}", identity: "{identity}",'
        f" permission: {{{fields}}}) {{ identity }} }}"
    )
    body = (await http.post("/graphql", json={"query": query}, headers=headers)).json()
    codes = [error["extensions"]["code"] for error in body.get("errors", [])]
    return {(): 200, ("FORBIDDEN",): 403}.get(tuple(codes), 500)


FACES = ("rest /permissions", "rest /info", "graphql")


async def test_a_moderator_cannot_grant_what_it_could_not_mint(
    http: httpx.AsyncClient, joined: None, lkapi: api.LiveKitAPI
) -> None:
    refused = []
    for face in FACES:
        for identity in ("mx", "guest"):
            for grant in BEYOND_A_MODERATOR:
                refused.append((face, identity, grant, await change(http, face, identity, {grant: True}, MODERATOR)))
            # All at once, as the probe sent them.
            everything = dict.fromkeys(BEYOND_A_MODERATOR, True)
            refused.append((face, identity, "all", await change(http, face, identity, everything, MODERATOR)))
    assert [case for case in refused if case[3] != 403] == []
    for identity in ("mx", "guest"):
        permission = await permission_in_livekit(lkapi, identity)
        assert [grant for grant in BEYOND_A_MODERATOR if getattr(permission, grant)] == []


async def test_a_moderator_still_takes_away_and_gives_back_default_grants(
    http: httpx.AsyncClient, joined: None, lkapi: api.LiveKitAPI
) -> None:
    for face in FACES:
        assert await change(http, face, "guest", {"can_publish": False}, MODERATOR) == 200
        assert not (await permission_in_livekit(lkapi, "guest")).can_publish
        assert await change(http, face, "guest", {"can_publish": True}, MODERATOR) == 200
        assert (await permission_in_livekit(lkapi, "guest")).can_publish


async def test_an_admin_may_grant_anything(http: httpx.AsyncClient, joined: None, lkapi: api.LiveKitAPI) -> None:
    for face in FACES:
        assert await change(http, face, "guest", {"can_subscribe_metrics": True}, ADMIN) == 200
        assert (await permission_in_livekit(lkapi, "guest")).can_subscribe_metrics
        assert await change(http, face, "guest", {"can_subscribe_metrics": False}, ADMIN) == 200


async def test_a_moderator_mints_no_hidden_token(http: httpx.AsyncClient) -> None:
    query = f'mutation {{ createToken(room: "{ROOM}", identity: "mx", hidden: true) {{ token }} }}'
    body = (await http.post("/graphql", json={"query": query}, headers=MODERATOR)).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def audit_records(service: Service) -> list[dict[str, Any]]:
    lines = [line for line in service.log_path.read_text().splitlines() if " audit " in line]
    return [json.loads(line.split(" audit ", 1)[1]) for line in lines]


async def test_refused_moderation_is_audited(http: httpx.AsyncClient, production: Service, joined: None) -> None:
    other = idp("my", ["moderator"], ["some-other-room"])
    attempts = [
        ("DELETE", f"/api/v1/room/{ROOM}/participant/guest", None, "kick"),
        ("POST", f"/api/v1/room/{ROOM}/participant/guest/mute", None, "mute"),
        ("DELETE", f"/api/v1/room/{ROOM}/participant/guest/mute", None, "unmute"),
        ("POST", f"/api/v1/room/{ROOM}/participant/guest/info", {"metadata": "m"}, "update_participant"),
        ("DELETE", f"/api/v1/room/{ROOM}", None, "delete_room"),
        ("POST", "/api/v1/room/", {"room": ROOM}, "create_room"),
    ]
    for method, path, form, _ in attempts:
        response = await http.request(method, path, data=form, headers=other)
        assert response.status_code == 403, response.text
    # A moderator of the room escalating itself is refused in the audit scope too.
    assert await change(http, "graphql", "mx", {"hidden": True}, MODERATOR) == 403
    records = audit_records(production)
    refused = {(r["who"], r["action"]) for r in records if r["result"] == "forbidden" and r["room"] == ROOM}
    assert {("my", action) for *_, action in attempts} | {("mx", "update_participant")} <= refused


async def test_a_rooms_claim_opens_nothing_to_a_plain_user(
    http: httpx.AsyncClient, production: Service, joined: None
) -> None:
    listing = await http.get("/api/v1/room/", headers=ROOMS_CLAIM_USER)
    assert listing.status_code == 403, listing.text
    for query in (
        "{ rooms { name } }",
        "{ rooms { name participants { identity } } }",
        f'{{ room(name: "{ROOM}") {{ participants {{ identity }} }} }}',
        f'{{ participants(room: "{ROOM}") {{ identity }} }}',
    ):
        body = (await http.post("/graphql", json={"query": query}, headers=ROOMS_CLAIM_USER)).json()
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"], (query, body)
        assert "guest" not in json.dumps(body)
    url = production.base_url.replace("http", "ws", 1) + "/graphql"
    async with SubscriptionClient(url, ROOMS_CLAIM_USER["authorization"]) as client:
        key = await client.subscribe(f'subscription {{ roomEvents(room: "{ROOM}") {{ kind }} }}')
        message = (await client.next(key)).payload
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["FORBIDDEN"], message
