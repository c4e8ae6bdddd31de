import json
import re
from typing import Any

from livekit.protocol import models

from graphql_api.core.redaction import SECRET_FIELDS, redact
from rest_compat.proto_json import message_to_dict


def test_room_fields_keep_proto_names_and_64_bit_numbers() -> None:
    room = models.Room(
        sid="RM_1",
        name="thehome",
        empty_timeout=300,
        creation_time=1731684825,
        creation_time_ms=1731684825123,
        enabled_codecs=[models.Codec(mime="audio/opus")],
    )
    data = message_to_dict(room)
    assert data["creation_time"] == 1731684825
    assert data["creation_time_ms"] == 1731684825123
    assert isinstance(data["creation_time"], int)
    assert data["enabled_codecs"] == [{"mime": "audio/opus", "fmtp_line": ""}]
    # Zero values are present, so clients need no table of defaults.
    assert data["max_participants"] == 0
    assert data["metadata"] == ""
    # A message field with presence appears only when set.
    assert "version" not in data
    assert json.loads(json.dumps(data)) == data


def test_participant_enums_by_name_and_maps() -> None:
    participant = models.ParticipantInfo(
        identity="alice",
        state=models.ParticipantInfo.State.ACTIVE,
        attributes={"nickname": "rick"},
        joined_at=2**40,
        tracks=[models.TrackInfo(sid="TR_1", type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE)],
        permission=models.ParticipantPermission(can_publish=True, can_publish_sources=[models.TrackSource.MICROPHONE]),
    )
    data = message_to_dict(participant)
    assert data["state"] == "ACTIVE"
    assert data["joined_at"] == 2**40
    assert data["attributes"] == {"nickname": "rick"}
    assert data["tracks"][0]["type"] == "AUDIO"
    assert data["tracks"][0]["source"] == "MICROPHONE"
    assert data["permission"]["can_publish_sources"] == ["MICROPHONE"]
    assert data["permission"]["can_subscribe"] is False


def _fields_reachable_from(*descriptors: Any) -> set[tuple[str, str]]:
    seen: set[str] = set()
    found: set[tuple[str, str]] = set()
    todo = list(descriptors)
    while todo:
        descriptor = todo.pop()
        if descriptor.full_name in seen:
            continue
        seen.add(descriptor.full_name)
        for field in descriptor.fields:
            found.add((descriptor.full_name, field.name))
            # A map's entries hold data (attribute names), not fields of their own.
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                todo.append(field.message_type)
    return found


def test_every_secret_looking_field_the_faces_could_show_is_redacted() -> None:
    # Everything REST writes (rooms, participants and all they contain), as LiveKit defines it today.
    reachable = _fields_reachable_from(models.Room.DESCRIPTOR, models.ParticipantInfo.DESCRIPTOR)
    looks_secret = re.compile(r"password|secret|token|credential|private|(^|_)key$")
    suspects = {(message, name) for message, name in reachable if looks_secret.search(name)}
    assert suspects, "the pattern finds turn_password at least"
    redacted = {(message, name) for message, names in SECRET_FIELDS.items() for name in names}
    assert suspects <= redacted


def test_a_room_is_written_without_its_turn_password() -> None:
    room = models.Room(name="r", sid="RM_1", turn_password="hunter2-hunter2")
    # The key the document shows, never the value, even for a room that was not redacted.
    assert message_to_dict(room)["turn_password"] == ""
    assert "hunter2" not in json.dumps(message_to_dict(room))
    redact(room)
    assert room.turn_password == ""
