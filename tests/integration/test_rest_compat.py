"""REST compat as the document describes it: its own curl examples sent exactly as written, the bodies
it accepts, and every refusal in the envelope (bad parameters, malformed bodies, unknown paths, LiveKit
rejecting us or unreachable)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from livekit.api import TokenVerifier

from tests.harness.curl import curl
from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service

pytestmark = pytest.mark.integration


def assert_room_shape(room: dict[str, Any], name: str) -> None:
    # Every field of the document's example, with its JSON type.
    assert isinstance(room["sid"], str)
    assert room["sid"].startswith("RM_")
    assert room["name"] == name
    for key in ("empty_timeout", "departure_timeout", "creation_time"):
        assert type(room[key]) is int, key
    assert isinstance(room["turn_password"], str)
    assert isinstance(room["enabled_codecs"], list)
    assert room["enabled_codecs"]
    assert all(isinstance(codec["mime"], str) for codec in room["enabled_codecs"])
    assert {"audio/opus", "video/VP8"} <= {codec["mime"] for codec in room["enabled_codecs"]}
    # The rest of LiveKit's Room message comes along with proto names.
    assert type(room["creation_time_ms"]) is int
    assert {"max_participants", "metadata", "num_participants", "num_publishers", "active_recording"} <= set(room)


def test_document_examples_token_create_list_delete(service: Service, livekit_server: LiveKitServer) -> None:
    status, body = curl(service, 'curl -XPOST https://{{API_ROOT}}/api/v1/room/token -d "uid=xtqxk&room=thehome"')
    assert status == 200
    assert body["meta"] == {"code": 200}
    claims = TokenVerifier(livekit_server.api_key, livekit_server.api_secret).verify(body["data"]["access_token"])
    assert claims.identity == "xtqxk"
    assert claims.video is not None
    assert claims.video.room == "thehome"
    assert claims.video.room_join

    status, body = curl(service, 'curl -XPOST https://{{API_ROOT}}/api/v1/room/ -d "room=thehome"')
    assert status == 200
    assert body["meta"] == {"code": 200}
    assert_room_shape(body["data"], "thehome")
    created = body["data"]

    status, body = curl(service, "curl -XGET https://{{API_ROOT}}/api/v1/room/")
    assert status == 200
    assert body["meta"] == {"code": 200}
    listed = [room for room in body["data"]["rooms"] if room["name"] == "thehome"]
    assert len(listed) == 1
    assert_room_shape(listed[0], "thehome")
    assert listed[0]["sid"] == created["sid"]

    status, body = curl(service, "curl -XDELETE https://{{API_ROOT}}/api/v1/room/thehome")
    assert status == 200
    assert body["meta"] == {"code": 200}
    assert_room_shape(body["data"], "thehome")
    assert body["data"]["sid"] == created["sid"]

    status, body = curl(service, "curl -XDELETE https://{{API_ROOT}}/api/v1/room/thehome")
    assert status == 404
    assert body["meta"]["code"] == 404
    assert "thehome" in body["meta"]["message"]


async def test_json_and_multipart_bodies_are_accepted(http: httpx.AsyncClient, room_name: str) -> None:
    response = await http.post("/api/v1/room/token", json={"uid": "alice", "room": room_name})
    assert response.status_code == 200
    assert response.json()["data"]["access_token"].count(".") == 2

    response = await http.post("/api/v1/room/", files={"room": (None, room_name), "empty_timeout": (None, "60")})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["empty_timeout"] == 60
    await http.delete(f"/api/v1/room/{room_name}")


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/api/v1/room/token", {"room": "r"}, "params uid is required"),
        ("/api/v1/room/token", {"uid": "u"}, "params room is required"),
        ("/api/v1/room/token", {"uid": "", "room": "r"}, "params uid must not be empty"),
        ("/api/v1/room/token", {"uid": "u" * 257, "room": "r"}, "params uid must be at most 256 bytes of UTF-8"),
        ("/api/v1/room/token", {"uid": "u\x01", "room": "r"}, "params uid must not contain control characters"),
        ("/api/v1/room/", {}, "params room is required"),
        ("/api/v1/room/", {"room": "r", "empty_timeout": "soon"}, "params empty_timeout must be a non-negative"),
        ("/api/v1/room/", {"room": "r", "max_participants": "-1"}, "params max_participants must be a non-negative"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(
    http: httpx.AsyncClient, path: str, form: dict[str, str], message: str
) -> None:
    response = await http.post(path, data=form)
    assert response.status_code == 400
    meta = response.json()["meta"]
    assert meta["code"] == 400
    assert meta["message"].startswith(message)
    assert "data" not in response.json()


async def test_malformed_bodies_are_4xx_in_the_envelope(http: httpx.AsyncClient) -> None:
    cases = [
        ({"content-type": "application/x-www-form-urlencoded"}, b"uid=%ff%fe&room=r", 400),
        ({"content-type": "application/x-www-form-urlencoded"}, b"\xff\xfe", 400),
        ({"content-type": "application/json"}, b"[1, 2]", 400),
        ({"content-type": "application/json"}, b"{not json", 400),
        ({"content-type": "application/json"}, b"[" * 10_000 + b"]" * 10_000, 400),
        ({"content-type": "application/xml"}, b"<uid>u</uid>", 415),
        ({"content-type": "application/x-www-form-urlencoded"}, "&".join(f"k{i}=v" for i in range(1000)).encode(), 400),
    ]
    for headers, body, status in cases:
        response = await http.post("/api/v1/room/token", headers=headers, content=body)
        assert response.status_code == status, (body[:40], response.text)
        assert response.json()["meta"]["code"] == status


async def test_unknown_paths_and_wrong_methods_answer_in_the_envelope(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.json()["meta"]["code"] == 404

    response = await http.get("/api/v1/room/token")
    assert response.status_code == 405
    assert response.json()["meta"]["code"] == 405
    assert "POST" in response.headers["allow"]


async def test_livekit_rejecting_our_credentials_is_502(misconfigured_services: dict[str, Service]) -> None:
    async with httpx.AsyncClient(base_url=misconfigured_services["bad_credentials"].base_url) as client:
        response = await client.get("/api/v1/room/")
        assert response.status_code == 502
        assert response.json()["meta"]["code"] == 502
        # Never the caller's 401: they did nothing wrong.
        assert response.status_code != 401
        assert (await client.get("/readyz")).status_code == 502
        # Tokens need no upstream call and keep working.
        assert (await client.post("/api/v1/room/token", data={"uid": "u", "room": "r"})).status_code == 200


async def test_unreachable_livekit_is_503_and_not_ready(misconfigured_services: dict[str, Service]) -> None:
    async with httpx.AsyncClient(base_url=misconfigured_services["unreachable"].base_url) as client:
        response = await client.post("/api/v1/room/", data={"room": "r"})
        assert response.status_code == 503
        assert response.json()["meta"]["code"] == 503
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
