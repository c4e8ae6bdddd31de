"""Participants and moderation, through both faces, with the effect observed on
real rtc clients as well as in LiveKit's own API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from livekit import api, rtc

from tests.harness.curl import curl
from tests.harness.livekit_server import DEV_CONFIG, LiveKitServer, node_ip_from_environment
from tests.harness.participants import Participant, ParticipantPool
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

Join = Callable[..., Awaitable[Participant]]
T = TypeVar("T")


@pytest.fixture
def join(http: httpx.AsyncClient, participants: ParticipantPool, lkapi: api.LiveKitAPI, room_name: str) -> Join:
    """Join `uid` to the test's room with a token minted by our own REST face.

    Returns once LiveKit's API lists every published track: the client's
    publish call returns before the server adds the track to the participant,
    and a moderation call made in between would find nothing to act on.
    """

    async def run(uid: str, *, audio: bool = True, video: bool = False, room: str = room_name) -> Participant:
        response = await http.post("/api/v1/room/token", data={"uid": uid, "room": room})
        assert response.status_code == 200, response.text
        participant = await participants.join(response.json()["data"]["access_token"], audio=audio, video=video)
        await wait_for_server_tracks(lkapi, room, uid, int(audio) + int(video))
        return participant

    return run


async def wait_for_server_tracks(lkapi: api.LiveKitAPI, room: str, identity: str, count: int) -> None:
    await eventually(lambda: server_view(lkapi, room, identity), lambda view: len(view.tracks) >= count)


async def eventually(read: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 10) -> T:
    """Poll LiveKit's API until `check` holds: it pushes nothing to an API client."""
    async with asyncio.timeout(timeout):
        while True:
            value = await read()
            if check(value):
                return value
            await asyncio.sleep(0.05)


async def server_view(lkapi: api.LiveKitAPI, room: str, identity: str) -> api.ParticipantInfo:
    return await lkapi.room.get_participant(api.RoomParticipantIdentity(room=room, identity=identity))


def example(service: Service, template: str, room: str, uid: str = "") -> str:
    return template.replace("{{room}}", room).replace("{{uid}}", uid)


# Listing and reading


async def test_list_and_get_participants_document_examples(service: Service, join: Join, room_name: str) -> None:
    alice = await join("alice")
    await join("bob", audio=False)

    status, body = curl(
        service, example(service, "curl -XGET https://{{API_ROOT}}/api/v1/room/{{room}}/participants", room_name)
    )
    assert status == 200
    assert body["meta"] == {"code": 200}
    listed = {participant["identity"]: participant for participant in body["data"]["participants"]}
    assert set(listed) == {"alice", "bob"}
    first = listed["alice"]
    assert first["sid"] == alice.sid
    assert type(first["joined_at"]) is int
    assert first["joined_at"] > 1_700_000_000
    assert first["state"] in ("JOINED", "ACTIVE")
    assert isinstance(first["permission"]["can_publish"], bool)
    [track] = first["tracks"]
    assert (track["type"], track["source"], track["muted"]) == ("AUDIO", "MICROPHONE", False)
    assert listed["bob"]["tracks"] == []

    status, body = curl(
        service,
        example(
            service, "curl -XGET https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}", room_name, "alice"
        ),
    )
    assert status == 200
    assert body["data"]["identity"] == "alice"
    assert body["data"]["sid"] == alice.sid
    assert body["data"]["tracks"][0]["sid"] == alice.audio.sid  # type: ignore[union-attr]


async def test_missing_room_or_participant_is_404(http: httpx.AsyncClient, join: Join, room_name: str) -> None:
    response = await http.get(f"/api/v1/room/{room_name}-absent/participants")
    assert response.status_code == 404
    assert "room" in response.json()["meta"]["message"]

    await join("alice", audio=False)
    response = await http.get(f"/api/v1/room/{room_name}/participant/nobody")
    assert response.status_code == 404
    assert response.json()["meta"] == {
        "code": 404,
        "message": f"participant nobody is not in room {room_name}",
        "error": "participant not found",
    }
    response = await http.get(f"/api/v1/room/{room_name}-absent/participant/alice")
    assert response.status_code == 404
    assert response.json()["meta"]["error"] == "room not found"
    for method, path in [
        ("DELETE", f"/api/v1/room/{room_name}/participant/nobody"),
        ("POST", f"/api/v1/room/{room_name}/participant/nobody/mute"),
        ("DELETE", f"/api/v1/room/{room_name}/participant/nobody/mute"),
        ("POST", f"/api/v1/room/{room_name}/participant/nobody/info"),
        ("POST", f"/api/v1/room/{room_name}/participant/nobody/permissions"),
    ]:
        response = await http.request(method, path, data={"metadata": "m", "permission": '{"can_publish": true}'})
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["meta"]["code"] == 404


async def test_graphql_participants_with_enums(graphql: Any, join: Join, room_name: str) -> None:
    alice = await join("alice")
    body = await graphql(
        "query($room: String!) { participants(room: $room) { identity sid state joinedAt"
        " tracks { sid type source muted } permission { canPublish canSubscribe } } }",
        room=room_name,
    )
    assert "errors" not in body, body
    [participant] = body["data"]["participants"]
    assert participant["sid"] == alice.sid
    assert participant["state"] in ("JOINED", "ACTIVE")
    assert participant["tracks"] == [
        {"sid": alice.audio.sid, "type": "AUDIO", "source": "MICROPHONE", "muted": False}  # type: ignore[union-attr]
    ]
    body = await graphql(
        'query($room: String!) { participant(room: $room, identity: "alice") { identity } '
        'missing: participant(room: $room, identity: "nobody") { identity } }',
        room=room_name,
    )
    assert body["data"] == {"participant": {"identity": "alice"}, "missing": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_rooms_with_participants_in_one_query(graphql: Any, join: Join, room_name: str) -> None:
    rooms = [f"{room_name}-{i}" for i in range(4)]
    for index, room in enumerate(rooms):
        for person in range(index + 1):
            await join(f"p{person}", audio=False, room=room)
    body = await graphql(
        "query($names: [String!]) { rooms(names: $names) { name participants { identity } } }", names=rooms
    )
    assert "errors" not in body, body
    seen = {room["name"]: sorted(p["identity"] for p in room["participants"]) for room in body["data"]["rooms"]}
    assert seen == {room: [f"p{person}" for person in range(index + 1)] for index, room in enumerate(rooms)}


# Kick


async def test_kick_document_example_disconnects_the_client(
    service: Service, join: Join, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    alice = await join("alice")
    bob = await join("bob", audio=False)
    mark = alice.mark()
    status, body = curl(
        service,
        example(
            service, "curl -XDELETE https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}", room_name, "alice"
        ),
    )
    assert (status, body) == (200, {"meta": {"code": 200}})
    reason = await alice.wait_disconnected(since=mark)
    assert reason == rtc.DisconnectReason.PARTICIPANT_REMOVED
    # One structured audit line for the kick: who, what, where, whom, how it ended.
    audit = [line for line in service.log_path.read_text().splitlines() if " audit " in line and room_name in line]
    record = json.loads(audit[-1].split(" audit ", 1)[1])
    assert len(record.pop("request_id")) == 32  # curl sent none: one was made
    assert record == {
        "who": "anonymous",
        "via": "anonymous",
        "face": "rest",
        "action": "kick",
        "room": room_name,
        "identity": "alice",
        "result": "ok",
    }
    await bob.wait_for("participant_disconnected", lambda p: p.identity == "alice")
    listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room_name))
    assert [p.identity for p in listed.participants] == ["bob"]

    status, body = curl(
        service,
        example(
            service, "curl -XDELETE https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}", room_name, "alice"
        ),
    )
    assert status == 404


async def test_kick_through_graphql(graphql: Any, join: Join, room_name: str) -> None:
    alice = await join("alice", audio=False)
    body = await graphql('mutation($room: String!) { kickParticipant(room: $room, identity: "alice") }', room=room_name)
    assert body == {"data": {"kickParticipant": True}}
    assert await alice.wait_disconnected() == rtc.DisconnectReason.PARTICIPANT_REMOVED


# Mute


async def test_mute_and_unmute_document_example_reach_the_client(
    service: Service, join: Join, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    alice = await join("alice")
    assert alice.audio is not None
    sid = alice.audio.sid
    mark = alice.mark()
    status, body = curl(
        service,
        example(
            service,
            "curl -XPOST https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}/mute",
            room_name,
            "alice",
        ),
    )
    assert (status, body) == (200, {"meta": {"code": 200}})
    await alice.wait_for("track_muted", lambda participant, publication: publication.sid == sid, since=mark)
    await alice.wait_until(lambda: alice.audio is not None and alice.audio.muted)
    assert (await server_view(lkapi, room_name, "alice")).tracks[0].muted

    # Muting again changes nothing and still succeeds.
    status, _ = curl(
        service,
        example(
            service,
            "curl -XPOST https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}/mute",
            room_name,
            "alice",
        ),
    )
    assert status == 200

    mark = alice.mark()
    status, body = curl(
        service,
        example(
            service,
            "curl -XDELETE https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}/mute",
            room_name,
            "alice",
        ),
    )
    assert (status, body) == (200, {"meta": {"code": 200}})
    await alice.wait_for("track_unmuted", lambda participant, publication: publication.sid == sid, since=mark)
    await eventually(lambda: server_view(lkapi, room_name, "alice"), lambda view: not view.tracks[0].muted)


async def test_mute_touches_only_the_microphone_unless_told(
    graphql: Any, join: Join, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    alice = await join("alice", video=True)
    assert alice.audio is not None
    assert alice.video is not None
    body = await graphql(
        'mutation($room: String!) { muteParticipant(room: $room, identity: "alice") { tracks { sid source muted } } }',
        room=room_name,
    )
    assert "errors" not in body, body
    tracks = {track["source"]: track["muted"] for track in body["data"]["muteParticipant"]["tracks"]}
    assert tracks == {"MICROPHONE": True, "CAMERA": False}
    await alice.wait_until(lambda: alice.audio is not None and alice.audio.muted)
    assert not alice.video.muted

    video_sid = alice.video.sid
    body = await graphql(
        'mutation($room: String!, $sid: String) { muteParticipant(room: $room, identity: "alice", trackSid: $sid) '
        "{ tracks { sid muted } } }",
        room=room_name,
        sid=video_sid,
    )
    assert {"sid": video_sid, "muted": True} in body["data"]["muteParticipant"]["tracks"]
    await alice.wait_for("track_muted", lambda participant, publication: publication.sid == video_sid)

    body = await graphql(
        'mutation($room: String!) { muteParticipant(room: $room, identity: "alice", muted: false, source: CAMERA) '
        "{ tracks { source muted } } }",
        room=room_name,
    )
    tracks = {track["source"]: track["muted"] for track in body["data"]["muteParticipant"]["tracks"]}
    # A remote unmute is a request LiveKit forwards to the client, so its answer
    # may still show the track muted; the client's own event is what settles it.
    assert tracks["MICROPHONE"] is True
    await alice.wait_for("track_unmuted", lambda participant, publication: publication.sid == video_sid)

    await eventually(
        lambda: server_view(lkapi, room_name, "alice"),
        lambda view: (
            {track.source: track.muted for track in view.tracks}
            == {api.TrackSource.MICROPHONE: True, api.TrackSource.CAMERA: False}
        ),
    )


async def test_mute_edge_cases(http: httpx.AsyncClient, join: Join, room_name: str) -> None:
    await join("quiet", audio=False)
    # Nothing to mute is not an error.
    response = await http.post(f"/api/v1/room/{room_name}/participant/quiet/mute")
    assert response.status_code == 200
    await join("alice")
    # LiveKit itself silently succeeds for a track that does not exist.
    response = await http.post(f"/api/v1/room/{room_name}/participant/alice/mute", data={"track_sid": "TR_nope"})
    assert response.status_code == 404
    assert response.json()["meta"]["error"] == "track not found"
    response = await http.post(f"/api/v1/room/{room_name}/participant/alice/mute", data={"source": "trumpet"})
    assert response.status_code == 400
    assert response.json()["meta"]["message"].startswith("params source")


@pytest.fixture(scope="module")
def no_remote_unmute(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A second LiveKit whose operator left remote unmute off, and a service in front of it."""
    config = yaml.safe_load(DEV_CONFIG.read_text())
    config["room"]["enable_remote_unmute"] = False
    path = tmp_path_factory.mktemp("strict") / "livekit.yaml"
    path.write_text(yaml.safe_dump(config))
    server = LiveKitServer(
        node_ip=node_ip_from_environment(), base_config=Path(path), workdir=tmp_path_factory.mktemp("lk-strict")
    )
    server.start()
    try:
        with run_service(service_settings(server)) as service:
            yield server, service
    finally:
        server.stop()


async def test_unmute_refused_by_livekit_is_409(no_remote_unmute: Any, room_name: str) -> None:
    server, service = no_remote_unmute
    pool = ParticipantPool(server.ws_url)
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=15) as client:
            token = (await client.post("/api/v1/room/token", data={"uid": "alice", "room": room_name})).json()
            alice = await pool.join(token["data"]["access_token"], audio=True)
            async with api.LiveKitAPI(server.url, server.api_key, server.api_secret) as strict_api:
                await wait_for_server_tracks(strict_api, room_name, "alice", 1)
            path = f"/api/v1/room/{room_name}/participant/alice/mute"
            assert (await client.post(path)).status_code == 200
            await alice.wait_until(lambda: alice.audio is not None and alice.audio.muted)
            response = await client.delete(path)
            assert response.status_code == 409
            assert "enable_remote_unmute" in response.json()["meta"]["message"]
            assert alice.audio is not None
            assert alice.audio.muted
    finally:
        await pool.aclose()


# Info


async def test_info_document_example_is_seen_by_others(
    service: Service, join: Join, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    await join("alice", audio=False)
    bob = await join("bob", audio=False)
    mark = bob.mark()
    status, body = curl(
        service,
        example(
            service,
            "curl -XPOST https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}/info"
            ' -d "metadata=metadata_string&attrs=%7B%22nickname%22%3A%22rick%22%2C%22gender%22%3A%22male%22%7D"',
            room_name,
            "alice",
        ),
    )
    assert status == 200
    assert body["meta"] == {"code": 200}
    assert body["data"]["identity"] == "alice"
    assert body["data"]["metadata"] == "metadata_string"
    assert body["data"]["attributes"] == {"nickname": "rick", "gender": "male"}
    await bob.wait_for(
        "participant_metadata_changed",
        lambda p, old, new: p.identity == "alice" and new == "metadata_string",
        since=mark,
    )
    await bob.wait_for(
        "participant_attributes_changed",
        lambda changed, p: p.identity == "alice" and p.attributes.get("nickname") == "rick",
        since=mark,
    )

    # Attributes merge, and an empty value deletes its key.
    response = await service_post(
        service, room_name, "alice", "info", {"attrs": json.dumps({"gender": "", "lang": "zh"})}
    )
    assert response["data"]["attributes"] == {"nickname": "rick", "lang": "zh"}
    assert dict((await server_view(lkapi, room_name, "alice")).attributes) == {"nickname": "rick", "lang": "zh"}
    await bob.wait_for(
        "participant_attributes_changed", lambda changed, p: p.identity == "alice" and "gender" not in p.attributes
    )


async def service_post(service: Service, room: str, uid: str, action: str, form: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=service.api, timeout=15) as client:
        response = await client.post(f"/room/{room}/participant/{uid}/{action}", data=form)
        body: dict[str, Any] = response.json()
        assert body["meta"]["code"] == response.status_code
        return body


@pytest.mark.parametrize(
    "attrs", ["[1, 2]", '{"nickname": 7}', "not json", '"text"', '{"": "empty key"}', '{"a": {"b": "c"}}']
)
async def test_bad_attrs_are_400_naming_attrs(service: Service, join: Join, room_name: str, attrs: str) -> None:
    await join("alice", audio=False)
    body = await service_post(service, room_name, "alice", "info", {"attrs": attrs})
    assert body["meta"]["code"] == 400
    assert body["meta"]["message"].startswith("params attrs ")


async def test_info_through_graphql(graphql: Any, join: Join, room_name: str) -> None:
    await join("alice", audio=False)
    bob = await join("bob", audio=False)
    body = await graphql(
        'mutation($room: String!, $attrs: JSON) { updateParticipantInfo(room: $room, identity: "alice",'
        ' metadata: "m2", name: "Alice A.", attributes: $attrs) { name metadata attributes } }',
        room=room_name,
        attrs={"role": "host"},
    )
    assert body["data"]["updateParticipantInfo"] == {
        "name": "Alice A.",
        "metadata": "m2",
        "attributes": {"role": "host"},
    }
    await bob.wait_for("participant_name_changed", lambda p, old, new: p.identity == "alice" and new == "Alice A.")
    body = await graphql(
        'mutation($room: String!) { updateParticipantInfo(room: $room, identity: "alice", attributes: [1]) { name } }',
        room=room_name,
    )
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "status": 400, "param": "attributes"}


# Permissions


async def test_permissions_document_example_revokes_publishing(
    service: Service, join: Join, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    alice = await join("alice")
    bob = await join("bob", audio=False)
    before = (await server_view(lkapi, room_name, "alice")).permission
    assert before.can_publish
    assert before.can_subscribe
    assert alice.audio is not None
    sid = alice.audio.sid
    mark = bob.mark()
    # Sent exactly as the document writes it: to /info, with its odd quoting.
    status, body = curl(
        service,
        example(
            service,
            "curl -XPOST https://{{API_ROOT}}/api/v1/room/{{room}}/participant/{{uid}}/info"
            ' -d "permission="%7B%22can_subscribe%22%3Atrue%2C%22can_publish%22%3Afalse%7D""',
            room_name,
            "alice",
        ),
    )
    assert status == 200, body
    assert body["data"]["permission"]["can_publish"] is False
    assert body["data"]["permission"]["can_subscribe"] is True
    # Fields the caller did not mention keep their value.
    assert body["data"]["permission"]["can_publish_data"] is before.can_publish_data
    # Revoking publish unpublishes the client's track: the others see it go (the
    # Python SDK emits no local_track_unpublished for a server-side unpublish),
    # and the client itself is told it may no longer publish.
    await bob.wait_for(
        "track_unpublished", lambda publication, participant: publication.sid == sid, since=mark, timeout=15
    )
    await alice.wait_until(lambda: not alice.local.permissions.can_publish)
    assert not (await server_view(lkapi, room_name, "alice")).tracks


async def test_partial_permissions_merge(service: Service, join: Join, lkapi: api.LiveKitAPI, room_name: str) -> None:
    alice = await join("alice", audio=False)
    body = await service_post(
        service, room_name, "alice", "permissions", {"permission": json.dumps({"can_publish_data": False})}
    )
    assert body["meta"] == {"code": 200}
    permission = (await server_view(lkapi, room_name, "alice")).permission
    assert (permission.can_publish_data, permission.can_publish, permission.can_subscribe) == (False, True, True)
    await alice.wait_until(lambda: not alice.local.permissions.can_publish_data)

    body = await service_post(
        service,
        room_name,
        "alice",
        "permissions",
        {"permission": json.dumps({"can_publish_sources": ["microphone"]})},
    )
    assert body["data"]["permission"]["can_publish_sources"] == ["MICROPHONE"]
    assert body["data"]["permission"]["can_publish_data"] is False


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        ('{"can_fly": true}', "unknown key"),
        ('{"can_publish": "yes"}', "must be true or false"),
        ('{"can_publish_sources": ["trumpet"]}', "unknown source"),
        ('{"can_publish_sources": "MICROPHONE"}', "must be a list"),
        ("[true]", "must be a JSON object"),
        ("{broken", "must be a JSON object"),
    ],
)
async def test_bad_permissions_are_400(
    service: Service, join: Join, room_name: str, permission: str, expected: str
) -> None:
    await join("alice", audio=False)
    body = await service_post(service, room_name, "alice", "permissions", {"permission": permission})
    assert body["meta"]["code"] == 400
    assert body["meta"]["message"].startswith("params permission ")
    assert expected in body["meta"]["message"]


async def test_permissions_through_graphql(graphql: Any, join: Join, lkapi: api.LiveKitAPI, room_name: str) -> None:
    alice = await join("alice")
    bob = await join("bob", audio=False)
    mark = bob.mark()
    body = await graphql(
        'mutation($room: String!) { updateParticipantPermissions(room: $room, identity: "alice",'
        " permission: {canPublish: false}) { permission { canPublish canSubscribe } tracks { sid } } }",
        room=room_name,
    )
    assert "errors" not in body, body
    assert body["data"]["updateParticipantPermissions"]["permission"] == {"canPublish": False, "canSubscribe": True}
    await bob.wait_for(
        "track_unpublished", lambda publication, participant: participant.identity == "alice", since=mark
    )
    await alice.wait_until(lambda: not alice.local.permissions.can_publish)
    permission = (await server_view(lkapi, room_name, "alice")).permission
    assert (permission.can_publish, permission.can_subscribe) == (False, True)


# Pages and filters


async def test_participants_page_and_filter_on_both_faces(
    http: httpx.AsyncClient, graphql: Any, join: Join, room_name: str
) -> None:
    await join("alice")
    await join("bob", audio=False)
    await join("carol")
    response = await http.post(
        f"/api/v1/room/{room_name}/participant/bob/info", data={"attrs": json.dumps({"team": "blue"})}
    )
    assert response.status_code == 200, response.text

    async def rest(**params: str) -> dict[str, Any]:
        response = await http.get(f"/api/v1/room/{room_name}/participants", params=params)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    page = await rest(limit="2")
    assert [p["identity"] for p in page["participants"]] == ["alice", "bob"]
    assert page["total_count"] == 3
    rest_of_it = await rest(limit="2", cursor=page["next_cursor"])
    assert [p["identity"] for p in rest_of_it["participants"]] == ["carol"]
    assert rest_of_it["next_cursor"] is None
    assert [p["identity"] for p in (await rest(publishing="false"))["participants"]] == ["bob"]
    assert [p["identity"] for p in (await rest(attribute="team=blue"))["participants"]] == ["bob"]
    assert [p["identity"] for p in (await rest(state="active", kind="standard"))["participants"]] == [
        "alice",
        "bob",
        "carol",
    ]

    body = await graphql(
        "query($r: String!) { participantsConnection(room: $r, filter: {publishing: true, states: [ACTIVE]})"
        " { totalCount edges { node { identity tracks { source } } } } }",
        r=room_name,
    )
    connection = body["data"]["participantsConnection"]
    assert connection["totalCount"] == 2
    assert [edge["node"]["identity"] for edge in connection["edges"]] == ["alice", "carol"]
    body = await graphql(
        'query($r: String!) { participantsConnection(room: $r, filter: {attribute: {key: "team", value: "blue"}})'
        " { edges { node { identity attributes } } } }",
        r=room_name,
    )
    assert [edge["node"]["identity"] for edge in body["data"]["participantsConnection"]["edges"]] == ["bob"]

    response = await http.get(f"/api/v1/room/{room_name}/participants", params={"state": "asleep"})
    assert response.status_code == 400
    assert "params state " in response.json()["meta"]["message"]
