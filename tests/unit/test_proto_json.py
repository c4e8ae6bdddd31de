import json

from livekit.protocol import models

from graphql_api.proto_json import message_to_dict


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
