"""Server-to-server API keys (`GXRTC_API_KEYS`, `GXRTC_ADMIN_KEY`): stored as SHA-256 digests, each with its role."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Final

from .principal import _ROLE_BY_NAME, _SINGLE_ROLE, Principal, Role

_API_KEY_FIELDS: Final = frozenset({"name", "role", "sha256"})


def _api_keys(setting: str | None) -> tuple[tuple[bytes, Principal], ...]:
    if setting is None:
        return ()
    try:
        entries = json.loads(setting)
    except ValueError:
        raise ValueError('api_keys is not JSON: expected [{"name": ..., "role": ..., "sha256": ...}]') from None
    if not isinstance(entries, list):
        raise ValueError('api_keys must be a JSON list: [{"name": ..., "role": ..., "sha256": ...}]')
    keys: list[tuple[bytes, Principal]] = []
    for index, entry in enumerate(entries):
        where = f"api_keys[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object with name, role and sha256")
        if missing := sorted(_API_KEY_FIELDS - entry.keys()):
            raise ValueError(f"{where} lacks {', '.join(missing)}")
        if unknown := sorted(entry.keys() - _API_KEY_FIELDS):
            raise ValueError(f"{where} has unknown fields {', '.join(unknown)}; expected name, role and sha256")
        name, role, digest = entry["name"], entry["role"], entry["sha256"]
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}.name must be a non-empty string")
        if not isinstance(role, str) or role not in _ROLE_BY_NAME:
            raise ValueError(f"{where}.role must be one of {', '.join(_ROLE_BY_NAME)}")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError(f"{where}.sha256 must be the 64 hex digits of the key's SHA-256")
        try:
            expected = bytes.fromhex(digest)
        except ValueError:
            raise ValueError(f"{where}.sha256 must be the 64 hex digits of the key's SHA-256") from None
        keys.append((expected, Principal(uid=f"key:{name}", roles=_SINGLE_ROLE[role], via="api_key")))
    _check_unique(keys)
    return tuple(keys)


def _with_admin_key(keys: tuple[tuple[bytes, Principal], ...], admin_key: str) -> tuple[tuple[bytes, Principal], ...]:
    if not admin_key:
        raise ValueError("admin_key is set but empty")
    if admin_key != admin_key.strip() or any(char.isspace() for char in admin_key):
        raise ValueError("admin_key must not contain whitespace")
    if admin_key.count(".") == 2:
        raise ValueError("admin_key must not contain exactly two dots: it would be read as a JWT")
    admin = (
        hashlib.sha256(admin_key.encode()).digest(),
        Principal(uid="key:admin", roles=_SINGLE_ROLE[Role.ADMIN], via="api_key"),
    )
    combined = (*keys, admin)
    _check_unique(combined)
    return combined


def _check_unique(keys: Sequence[tuple[bytes, Principal]]) -> None:
    uids = [principal.uid for _, principal in keys]
    if len(set(uids)) != len(uids):
        raise ValueError("api_keys: every key needs its own name (admin_key is named admin)")
    if len({digest for digest, _ in keys}) != len(keys):
        raise ValueError("api_keys: the same key is configured twice")
