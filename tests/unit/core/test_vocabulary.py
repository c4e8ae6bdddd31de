"""The vocabularies that must change together agree: the ones spelled out by hand match those derived from LiveKit."""

from __future__ import annotations

import dataclasses
from typing import get_args

from graphql_api.core import grants
from graphql_api.core.vocabulary import PERMISSION_FIELDS, PERMISSION_SWITCHES, TRACK_SOURCES
from graphql_api.schema.types import ParticipantPermission, ParticipantPermissionInput, TrackSource
from graphql_api.settings import Settings
from rest_compat.openapi import PERMISSION


def test_track_sources_are_livekits_grantable_ones() -> None:
    assert TRACK_SOURCES == ("camera", "microphone", "screen_share", "screen_share_audio")
    assert grants.SOURCE_NAMES == TRACK_SOURCES
    assert {member.name.lower() for member in TrackSource} - {"unknown"} == set(TRACK_SOURCES)


def test_the_user_publish_sources_setting_names_exactly_the_track_sources() -> None:
    annotation = Settings.model_fields["user_publish_sources"].annotation
    (literal,) = get_args(annotation)
    assert get_args(literal) == TRACK_SOURCES


def test_permission_switches_include_the_ones_we_grant() -> None:
    assert {"can_subscribe", "can_publish", "can_publish_data", "hidden"} <= set(PERMISSION_SWITCHES)


def test_graphqls_permission_types_have_exactly_the_editable_fields() -> None:
    # Strawberry's types are spelled out for the type checker; they must not drift from LiveKit's message.
    for kind in (ParticipantPermission, ParticipantPermissionInput):
        names = {field.name for field in dataclasses.fields(kind)}
        assert names == set(PERMISSION_FIELDS), kind.__name__


def test_rests_permission_schema_has_exactly_the_editable_fields() -> None:
    assert set(PERMISSION["properties"]) == set(PERMISSION_FIELDS)
