"""Who may do what, over every operation, through both faces, against a
production-mode service that verifies RS256 tokens from an identity provider
and static API keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from livekit import api

from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

ISSUER = "https://idp.test"
AUDIENCE = "gxrtc"
ADMIN_KEY = "admin-key-for-the-checks-0123456789abcdef"
BACKEND_KEY = "backend-key-0123456789abcdef0123456789"
ROOM_X = "authz-room-x"
ROOM_Y = "authz-room-y"
ROOM_L = "authz-room-locked"
"""Moderated by the moderator of X too, and the only room the matrix locks (a lock on X would refuse users' tokens)."""

_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    _PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def idp_token(sub: str | None, roles: list[str], rooms: list[str] | None = None, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now - 5, "exp": now + 600}
    if sub is not None:
        claims["sub"] = sub
    claims["roles"] = roles
    if rooms is not None:
        claims["rooms"] = rooms
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, _PRIVATE, algorithm="RS256")


def unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@dataclass(frozen=True)
class Caller:
    name: str
    authorization: str | None
    uid: str = ""
    kind: str = "bad"  # anonymous/bad, user, moderator-x, moderator-y, admin


def callers() -> list[Caller]:
    now = int(time.time())
    tampered = idp_token("alice", ["admin"])
    header, payload, signature = tampered.split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    return [
        Caller("anonymous", None),
        Caller("user A", f"Bearer {idp_token('alice', ['user'])}", "alice", "user"),
        Caller("user B", f"Bearer {idp_token('bob', [])}", "bob", "user"),
        # A rooms claim means something to moderators only.
        Caller("user with a rooms claim", f"Bearer {idp_token('carol', ['user'], [ROOM_X, ROOM_Y])}", "carol", "user"),
        Caller("moderator of X", f"Bearer {idp_token('mx', ['moderator'], [ROOM_X, ROOM_L])}", "mx", "moderator-x"),
        Caller("moderator of Y", f"Bearer {idp_token('my', ['moderator'], [ROOM_Y])}", "my", "moderator-y"),
        Caller("admin JWT", f"Bearer {idp_token('root', ['admin'])}", "root", "admin"),
        Caller("admin key", f"Bearer {ADMIN_KEY}", "key:admin", "admin"),
        Caller("backend API key", f"Bearer {BACKEND_KEY}", "key:backend", "admin"),
        Caller("expired", f"Bearer {idp_token('root', ['admin'], exp=now - 120, nbf=now - 600)}"),
        Caller("not yet valid", f"Bearer {idp_token('root', ['admin'], nbf=now + 600, exp=now + 1200)}"),
        Caller("bad signature", f"Bearer {header}.{payload}.{flipped}"),
        Caller(
            "alg none",
            "Bearer " + unsigned({"sub": "root", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}),
        ),
        Caller("HS256 signed with the public key", f"Bearer {hs256_signed_with_public_pem(now)}"),
        Caller("wrong audience", f"Bearer {idp_token('root', ['admin'], aud='someone-else')}"),
        Caller("wrong issuer", f"Bearer {idp_token('root', ['admin'], iss='https://evil.test')}"),
        Caller("wrong API key", "Bearer not-a-key-we-know-0123456789abcdef"),
        Caller("no sub", f"Bearer {idp_token(None, ['admin'])}"),
    ]


def hs256_signed_with_public_pem(now: int) -> str:
    """The key-confusion attack: the verifier's own public key used as an HMAC secret.

    Built by hand because PyJWT itself refuses a PEM as an HMAC secret.
    """
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    claims = {"sub": "root", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    signature = hmac.new(PUBLIC_PEM.encode(), header + b"." + payload, hashlib.sha256).digest()
    return (header + b"." + payload + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


CALLERS = callers()


@dataclass(frozen=True)
class Operation:
    name: str
    rest: tuple[str, str, dict[str, str]] | None
    """None where REST has no such call (it has no single-room read)."""
    graphql: str
    allowed: frozenset[str]
    """Caller kinds allowed; everyone else with valid credentials gets 403."""


ALL_KINDS = frozenset({"user", "moderator-x", "moderator-y", "admin"})
X_MODERATORS = frozenset({"moderator-x", "admin"})

OPERATIONS = [
    Operation(
        "token for own uid",
        ("POST", "/api/v1/room/token", {"uid": "{uid}", "room": ROOM_X}),
        'mutation { createToken(room: "@X", identity: "{uid}") { token } }',
        ALL_KINDS,
    ),
    Operation(
        "token for another uid",
        ("POST", "/api/v1/room/token", {"uid": "victim", "room": ROOM_X}),
        'mutation { createToken(room: "@X", identity: "victim") { token } }',
        frozenset({"admin"}),
    ),
    Operation(
        "create room",
        ("POST", "/api/v1/room/", {"room": ROOM_X}),
        'mutation { createRoom(name: "@X") { name } }',
        X_MODERATORS,
    ),
    Operation(
        "list rooms",
        ("GET", "/api/v1/room/", {}),
        "{ rooms { name } }",
        frozenset({"moderator-x", "moderator-y", "admin"}),
    ),
    Operation(
        "list rooms with participants",
        None,
        "{ rooms { participants { identity } } }",
        frozenset({"moderator-x", "moderator-y", "admin"}),
    ),
    Operation("get room", None, '{ room(name: "@X") { name } }', X_MODERATORS),
    Operation("get room with participants", None, '{ room(name: "@X") { participants { identity } } }', X_MODERATORS),
    Operation(
        "delete room",
        ("DELETE", f"/api/v1/room/{ROOM_X}", {}),
        'mutation { deleteRoom(name: "@X") { name } }',
        X_MODERATORS,
    ),
    Operation(
        "list participants",
        ("GET", f"/api/v1/room/{ROOM_X}/participants", {}),
        '{ participants(room: "@X") { identity } }',
        X_MODERATORS,
    ),
    Operation(
        "get participant",
        ("GET", f"/api/v1/room/{ROOM_X}/participant/ghost", {}),
        '{ participant(room: "@X", identity: "ghost") { identity } }',
        X_MODERATORS,
    ),
    Operation(
        "kick",
        ("DELETE", f"/api/v1/room/{ROOM_X}/participant/ghost", {}),
        'mutation { kickParticipant(room: "@X", identity: "ghost") }',
        X_MODERATORS,
    ),
    Operation(
        "mute",
        ("POST", f"/api/v1/room/{ROOM_X}/participant/ghost/mute", {}),
        'mutation { muteParticipant(room: "@X", identity: "ghost") { identity } }',
        X_MODERATORS,
    ),
    Operation(
        "unmute",
        ("DELETE", f"/api/v1/room/{ROOM_X}/participant/ghost/mute", {}),
        'mutation { muteParticipant(room: "@X", identity: "ghost", muted: false) { identity } }',
        X_MODERATORS,
    ),
    Operation(
        "info",
        ("POST", f"/api/v1/room/{ROOM_X}/participant/ghost/info", {"metadata": "m"}),
        'mutation { updateParticipantInfo(room: "@X", identity: "ghost", metadata: "m") { identity } }',
        X_MODERATORS,
    ),
    Operation(
        "permissions",
        ("POST", f"/api/v1/room/{ROOM_X}/participant/ghost/permissions", {"permission": '{"can_publish": false}'}),
        'mutation { updateParticipantPermissions(room: "@X", identity: "ghost", permission: {canPublish: false})'
        " { identity } }",
        X_MODERATORS,
    ),
    Operation(
        "audit trail",
        ("GET", "/api/v1/audit", {}),
        "{ auditLog { edges { cursor } } }",
        frozenset({"moderator-x", "moderator-y", "admin"}),
    ),
    Operation(
        "room's audit trail",
        ("GET", f"/api/v1/room/{ROOM_X}/audit", {}),
        '{ auditLog(room: "@X") { edges { cursor } } }',
        X_MODERATORS,
    ),
    # Bans: the matrix bans identities no other operation uses; every-room bans are for admins only.
    Operation(
        "ban",
        ("POST", f"/api/v1/room/{ROOM_X}/participant/ghost-banned/ban", {"reason": "r"}),
        'mutation { banParticipant(room: "@X", identity: "ghost-banned", reason: "r") { identity } }',
        X_MODERATORS,
    ),
    Operation(
        "unban",
        ("DELETE", f"/api/v1/room/{ROOM_X}/participant/ghost-banned/ban", {}),
        'mutation { unbanParticipant(room: "@X", identity: "ghost-banned") }',
        X_MODERATORS,
    ),
    Operation(
        "list bans",
        ("GET", f"/api/v1/room/{ROOM_X}/bans", {}),
        '{ bans(room: "@X") { identity } }',
        X_MODERATORS,
    ),
    Operation(
        "ban from every room",
        ("POST", "/api/v1/ban/ghost-everywhere", {}),
        'mutation { banParticipant(room: null, identity: "ghost-everywhere") { identity } }',
        frozenset({"admin"}),
    ),
    Operation(
        "unban from every room",
        ("DELETE", "/api/v1/ban/ghost-everywhere", {}),
        'mutation { unbanParticipant(room: null, identity: "ghost-everywhere") }',
        frozenset({"admin"}),
    ),
    Operation(
        "list every-room bans", ("GET", "/api/v1/bans", {}), "{ bans(room: null) { identity } }", frozenset({"admin"})
    ),
    Operation(
        "lock",
        ("POST", f"/api/v1/room/{ROOM_L}/lock", {}),
        f'mutation {{ lockRoom(room: "{ROOM_L}") {{ room }} }}',
        X_MODERATORS,
    ),
    Operation(
        "unlock",
        ("DELETE", f"/api/v1/room/{ROOM_L}/lock", {}),
        f'mutation {{ unlockRoom(room: "{ROOM_L}") }}',
        X_MODERATORS,
    ),
    Operation(
        "get lock",
        ("GET", f"/api/v1/room/{ROOM_L}/lock", {}),
        f'{{ roomLock(room: "{ROOM_L}") {{ room }} }}',
        X_MODERATORS,
    ),
    # Bulk acts: the room authorized once for the whole call; allowed, each item then finds nobody (200).
    Operation(
        "bulk kick",
        ("POST", f"/api/v1/room/{ROOM_X}/participants/kick", {"identities": "ghost,ghost2"}),
        'mutation { kickParticipants(room: "@X", identities: ["ghost", "ghost2"]) { ok } }',
        X_MODERATORS,
    ),
    Operation(
        "bulk mute",
        ("POST", f"/api/v1/room/{ROOM_X}/participants/mute", {"identities": "ghost"}),
        'mutation { muteParticipants(room: "@X", identities: ["ghost"]) { ok } }',
        X_MODERATORS,
    ),
    Operation(
        "bulk unmute",
        ("DELETE", f"/api/v1/room/{ROOM_X}/participants/mute", {"identities": "ghost"}),
        'mutation { muteParticipants(room: "@X", identities: ["ghost"], muted: false) { ok } }',
        X_MODERATORS,
    ),
    Operation(
        "bulk permissions",
        (
            "POST",
            f"/api/v1/room/{ROOM_X}/participants/permissions",
            {"identities": "ghost", "permission": '{"can_publish": false}'},
        ),
        'mutation { updateParticipantsPermissions(room: "@X", identities: ["ghost"], permission: {canPublish: false})'
        " { ok } }",
        X_MODERATORS,
    ),
    Operation(
        "bulk ban",
        ("POST", f"/api/v1/room/{ROOM_X}/participants/ban", {"identities": "ghost-banned-bulk"}),
        'mutation { banParticipants(room: "@X", identities: ["ghost-banned-bulk"]) { ok } }',
        X_MODERATORS,
    ),
    Operation(
        "presence",
        ("GET", "/api/v1/presence?identities=ghost", {}),
        '{ presence(identities: ["ghost"]) { identity } }',
        frozenset({"moderator-x", "moderator-y", "admin"}),
    ),
    # Self-escalation: what no moderator could mint, asked for its own uid (admins then find nobody).
    *(
        Operation(
            f"grant itself {grant}",
            (
                "POST",
                f"/api/v1/room/{ROOM_X}/participant/{{uid}}/{path}",
                {"permission": json.dumps({grant: True})},
            ),
            'mutation { updateParticipantPermissions(room: "@X", identity: "{uid}",'
            f" permission: {{{camel}: true}}) {{ identity }} }}",
            frozenset({"admin"}),
        )
        for grant, camel, path in (
            ("hidden", "hidden", "permissions"),
            ("can_update_metadata", "canUpdateMetadata", "info"),
            ("can_subscribe_metrics", "canSubscribeMetrics", "permissions"),
        )
    ),
]


@pytest.fixture(scope="module")
def secured(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server,
        GXRTC_ENV="production",
        GXRTC_AUTH_PUBLIC_KEY=PUBLIC_PEM,
        GXRTC_AUTH_ISSUER=ISSUER,
        GXRTC_AUTH_AUDIENCE=AUDIENCE,
        GXRTC_ADMIN_KEY=ADMIN_KEY,
        # Low enough that the schema's own nesting can reach it (see test_hardening).
        GXRTC_GRAPHQL_MAX_DEPTH="2",
        GXRTC_API_KEYS=json.dumps(
            [{"name": "backend", "role": "admin", "sha256": hashlib.sha256(BACKEND_KEY.encode()).hexdigest()}]
        ),
    )
    with run_service(settings) as service:
        yield service


@pytest.fixture
async def rooms_ready(lkapi: api.LiveKitAPI) -> None:
    for room in (ROOM_X, ROOM_Y):
        await lkapi.room.create_room(api.CreateRoomRequest(name=room))


def expected_status(caller: Caller, operation: Operation, success: int) -> int:
    if caller.kind == "bad":
        return 401
    return success if caller.kind in operation.allowed else 403


# Allowed calls on the ghost participant pass authorization and then find nobody.
SUCCESS = {"get participant": 404, "kick": 404, "mute": 404, "unmute": 404, "info": 404, "permissions": 404}
SUCCESS.update({f"grant itself {grant}": 404 for grant in ("hidden", "can_update_metadata", "can_subscribe_metrics")})


REST_OPERATIONS = [operation for operation in OPERATIONS if operation.rest is not None]


@pytest.mark.parametrize("caller", CALLERS, ids=[caller.name for caller in CALLERS])
@pytest.mark.parametrize("operation", REST_OPERATIONS, ids=[operation.name for operation in REST_OPERATIONS])
async def test_rest_matrix(secured: Service, rooms_ready: None, caller: Caller, operation: Operation) -> None:
    assert operation.rest is not None
    method, path, form = operation.rest
    headers = {"authorization": caller.authorization} if caller.authorization else {}
    data = {key: value.replace("{uid}", caller.uid or "someone") for key, value in form.items()}
    path = path.replace("{uid}", caller.uid or "someone")
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        response = await client.request(method, path, data=data or None, headers=headers)
    want = expected_status(caller, operation, SUCCESS.get(operation.name, 200))
    assert response.status_code == want, response.text
    body = response.json()
    assert body["meta"]["code"] == want
    if want == 401:
        assert body["meta"]["error"] == "user unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    if want == 403:
        assert body["meta"]["error"] == "forbidden"
    if operation.name == "list rooms" and want == 200:
        names = {room["name"] for room in body["data"]["rooms"]}
        if caller.kind == "moderator-x":
            assert names == {ROOM_X}
        if caller.kind == "moderator-y":
            assert names == {ROOM_Y}


@pytest.mark.parametrize("caller", CALLERS, ids=[caller.name for caller in CALLERS])
@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.name for operation in OPERATIONS])
async def test_graphql_matrix(secured: Service, rooms_ready: None, caller: Caller, operation: Operation) -> None:
    headers = {"authorization": caller.authorization} if caller.authorization else {}
    query = operation.graphql.replace("{uid}", caller.uid or "someone").replace("@X", ROOM_X)
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    want = expected_status(caller, operation, SUCCESS.get(operation.name, 200))
    codes = [error["extensions"]["code"] for error in body.get("errors", [])]
    expected_code = {200: [], 401: ["UNAUTHENTICATED"], 403: ["FORBIDDEN"], 404: ["NOT_FOUND"]}[want]
    assert codes == expected_code, body
    if operation.name == "list rooms" and want == 200:
        names = {room["name"] for room in body["data"]["rooms"]}
        if caller.kind == "moderator-x":
            assert names == {ROOM_X}


async def test_no_token_is_minted_for_another_uid_without_admin(secured: Service) -> None:
    minted_for_others = 0
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        for caller in CALLERS:
            if caller.kind == "admin":
                continue
            headers = {"authorization": caller.authorization} if caller.authorization else {}
            for uid in ("victim", "root", "key:admin", caller.uid.upper() or "x"):
                if uid == caller.uid:
                    continue
                response = await client.post("/api/v1/room/token", data={"uid": uid, "room": ROOM_X}, headers=headers)
                minted_for_others += "access_token" in response.text
                body = await client.post(
                    "/graphql",
                    json={
                        "query": 'mutation($u: String!) { createToken(room: "r", identity: $u) { token } }',
                        "variables": {"u": uid},
                    },
                    headers=headers,
                )
                minted_for_others += '"token"' in body.text
    assert minted_for_others == 0


async def test_token_grants_follow_the_role(secured: Service, livekit_server: LiveKitServer) -> None:
    user = {"authorization": CALLERS[1].authorization or ""}
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        body = (
            await client.post(
                "/graphql",
                json={"query": 'mutation { createToken(room: "r", identity: "alice", hidden: true) { token } }'},
                headers=user,
            )
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        body = (
            await client.post(
                "/graphql",
                json={"query": 'mutation { createToken(room: "r", identity: "alice", ttlSeconds: 86400) { token } }'},
                headers=user,
            )
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        body = (
            await client.post(
                "/graphql",
                json={
                    "query": 'mutation { createToken(room: "r", identity: "ghost", hidden: true,'
                    " canPublishSources: [MICROPHONE]) { token } }"
                },
                headers=admin,
            )
        ).json()
        claims = api.TokenVerifier(livekit_server.api_key, livekit_server.api_secret).verify(
            body["data"]["createToken"]["token"]
        )
        assert claims.video is not None
        assert claims.video.hidden is True
        assert claims.video.can_publish_sources == ["microphone"]
        assert not claims.video.room_admin


async def test_unauthenticated_message_is_localized(secured: Service) -> None:
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        zh = (await client.get("/api/v1/room/", headers={"accept-language": "zh-CN,zh;q=0.9"})).json()
        en = (await client.get("/api/v1/room/", headers={"accept-language": "en-US,en;q=0.8"})).json()
        default = (await client.get("/api/v1/room/")).json()
    # The document's own 403 example, word for word.
    assert zh["meta"] == {"code": 401, "error": "user unauthorized", "message": "用户没有登录,不能使用"}
    assert en["meta"]["error"] == "user unauthorized"
    assert "not logged in" in en["meta"]["message"]
    assert default["meta"]["message"] == "用户没有登录,不能使用"


@pytest.mark.parametrize(
    ("grant", "camel"),
    [
        ("hidden", "hidden"),
        ("can_update_metadata", "canUpdateMetadata"),
        ("can_subscribe_metrics", "canSubscribeMetrics"),
    ],
)
async def test_a_bulk_permission_change_grants_no_more_than_the_single_one(
    secured: Service, rooms_ready: None, grant: str, camel: str
) -> None:
    """A moderator of X granting itself what it could not mint: each item FORBIDDEN, on both faces."""
    moderator = next(caller for caller in CALLERS if caller.kind == "moderator-x")
    assert moderator.authorization is not None
    headers = {"authorization": moderator.authorization, "accept-language": "en"}
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        response = await client.post(
            f"/api/v1/room/{ROOM_X}/participants/permissions",
            data={"identities": f"{moderator.uid},someone", "permission": json.dumps({grant: True})},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        errors = [result["error"] for result in response.json()["data"]["results"]]
        assert [(error["code"], error["error"]) for error in errors] == [(403, "forbidden")] * 2
        # Only `ok`: an item's `error { code }` is deeper than this service's GXRTC_GRAPHQL_MAX_DEPTH of 2.
        query = (
            f'mutation($i: String!) {{ updateParticipantsPermissions(room: "{ROOM_X}", identities: [$i],'
            f" permission: {{{camel}: true}}) {{ ok }} }}"
        )
        body = (
            await client.post("/graphql", json={"query": query, "variables": {"i": moderator.uid}}, headers=headers)
        ).json()
    assert body["data"]["updateParticipantsPermissions"][0]["ok"] is False, body
