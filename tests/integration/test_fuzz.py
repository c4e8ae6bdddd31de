"""Schemathesis against REST compat's own OpenAPI description, on a real service
and a real LiveKit: no 5xx, every answer matches the description, and
`meta.code` always equals the HTTP status. And in its GraphQL mode against the
schema: every generated operation answered, none a server error or a masked bug.
Bounded examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import graphql
import hypothesis
import pytest
import schemathesis
import schemathesis.graphql
from hypothesis import strategies as st
from pydantic import SecretStr

from graphql_api.app import create_app
from graphql_api.core.paging import encode_cursor
from graphql_api.settings import Settings
from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import ROOT, Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

ADMIN_KEY = "fuzz-admin-key-0123456789abcdef0123456789"

# The description is the app's own, generated in-process; the calls go to a real server.
_DESCRIPTION = create_app(
    Settings(livekit_api_key="k", livekit_api_secret=SecretStr("s" * 32), env="dev", admin_key=SecretStr(ADMIN_KEY))
).openapi()
schema = schemathesis.openapi.from_dict(_DESCRIPTION)
# A cursor is opaque: only one this API gave out is valid, so the valid ones are made as the API makes them.
for _kind in ("room", "participant"):
    schemathesis.openapi.format(f"{_kind}-cursor", st.text(max_size=20).map(partial(encode_cursor, _kind)))


@schemathesis.check
def meta_code_is_the_status(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    body = response.json()
    assert isinstance(body, dict), body
    assert body["meta"]["code"] == response.status_code, (response.status_code, body)
    return None


@pytest.fixture(scope="module")
def fuzzed(livekit_server: LiveKitServer) -> Iterator[Service]:
    with run_service(service_settings(livekit_server, GXRTC_ADMIN_KEY=ADMIN_KEY)) as service:
        yield service


@schema.parametrize()
@hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
    database=None,
)
def test_rest_compat_matches_its_description(case: schemathesis.Case[Any], fuzzed: Service) -> None:
    # Capitalized as in the description's security scheme, so the auth checks can remove it.
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    case.call_and_validate(
        base_url=fuzzed.base_url,
        headers=headers,
        additional_checks=[meta_code_is_the_status],
        # The description states what is always accepted (64 characters for a name); the service
        # accepts more (256 bytes), so "schema-violating" data may rightly succeed.
        # /room/token is also /room/{room} for a room named "token", so its Allow rightly names DELETE,
        # which the description lists under the templated path only.
        excluded_checks=[schemathesis.checks.negative_data_rejection, schemathesis.checks.allow_header_conformance],
    )


# GraphQL mode: every root field of the service's own schema (schema.graphql, which a test
# keeps equal to the code), with arguments generated from their types.
schemathesis.graphql.scalar("Int64", st.integers(min_value=0, max_value=2**53).map(schemathesis.graphql.nodes.Int))
schemathesis.graphql.scalar("DateTime", st.just("2026-01-01T00:00:00Z").map(schemathesis.graphql.nodes.String))
schemathesis.graphql.scalar(
    "JSON",
    st.dictionaries(st.sampled_from(["nickname", "role", ""]), st.text(max_size=8), max_size=2).map(
        lambda attributes: schemathesis.graphql.nodes.Object(
            [
                graphql.ObjectFieldNode(
                    name=graphql.NameNode(value=key), value=schemathesis.graphql.nodes.String(value)
                )
                for key, value in attributes.items()
                if key
            ]
        )
    ),
)
graphql_schema = schemathesis.graphql.from_file((ROOT / "schema.graphql").read_text())


@graphql_schema.parametrize()
@hypothesis.settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
    database=None,
)
def test_graphql_answers_every_generated_operation(case: schemathesis.Case[Any], fuzzed: Service) -> None:
    response = case.call(base_url=f"{fuzzed.base_url}/graphql", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    # Valid operations and (schemathesis generates these too) invalid ones alike: an answer with
    # data, our own errors or graphql-core's validation errors, never a server error or a masked bug.
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict), body
    assert "data" in body, body
    codes = [error.get("extensions", {}).get("code") for error in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, (case.body, body)
