"""The weighed cache keeps the most recently used entries within both of its bounds."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from graphql_api.schema import GxrtcSchema, build_schema
from graphql_api.schema.weighed_cache import WeighedCache
from graphql_api.settings import Settings


def _cache(max_entries: int, max_weight: int) -> tuple[WeighedCache[str], list[str]]:
    computed: list[str] = []

    def compute(key: str) -> str:
        computed.append(key)
        return key.upper()

    return WeighedCache(compute, max_entries=max_entries, max_weight=max_weight, weigh=len), computed


def test_hits_are_not_recomputed_and_the_least_recently_used_goes_first() -> None:
    cache, computed = _cache(max_entries=2, max_weight=1000)
    assert cache("a") == "A"
    assert cache("b") == "B"
    assert cache("a") == "A"  # a is now the most recent
    cache("c")  # evicts b
    cache("a")
    cache("b")
    assert computed == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_the_total_weight_is_bounded() -> None:
    cache, computed = _cache(max_entries=100, max_weight=10)
    cache("aaaa")
    cache("bbbb")
    cache("cccc")  # 12 > 10: aaaa goes
    assert cache.weight == 8
    cache("bbbb")
    cache("aaaa")
    assert computed == ["aaaa", "bbbb", "cccc", "aaaa"]


def test_an_entry_heavier_than_the_budget_is_never_kept() -> None:
    cache, computed = _cache(max_entries=100, max_weight=10)
    cache("small")
    assert cache("x" * 11) == "X" * 11
    cache("x" * 11)
    assert computed == ["small", "x" * 11, "x" * 11]
    assert cache.weight == 5


def test_exceptions_are_not_cached() -> None:
    calls = 0

    def compute(key: str) -> str:
        nonlocal calls
        calls += 1
        raise ValueError(key)

    cache = WeighedCache(compute, max_entries=10, max_weight=100, weigh=len)
    for _ in range(2):
        with pytest.raises(ValueError, match="k"):
            cache("k")
    assert calls == 2
    assert len(cache) == 0


def test_the_schemas_parse_cache_keeps_a_bounded_length_of_query_text() -> None:
    schema = build_schema(Settings(livekit_api_key="k", livekit_api_secret=SecretStr("s" * 32)))
    assert isinstance(schema, GxrtcSchema)
    checks = schema._checks
    for index in range(100):
        checks.prepare(schema._schema, f"query Q{index} {{ rooms {{ name }} }}\n#" + "x" * 30_000)
    assert checks._prepared.weight <= 256 * 1024
    assert len(checks._prepared) < 10
