"""The keys a JWT is checked with, each pinned to one algorithm, so `alg: none` and key confusion cannot get through."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import HMACAlgorithm


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any
    """What PyJWT verifies with: HMAC secret bytes, or a `cryptography` public key object."""
    algorithms: tuple[str]
    """The one algorithm this key may verify."""


# Configuration. Messages name the setting and the problem, never the value.


def _non_empty(name: str, value: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} is set but empty")
    return value


def _hmac_key(secret: str) -> _Key:
    key = secret.encode()
    if len(key) < 32:
        raise ValueError("auth_jwt_secret must be at least 32 bytes: HS256 needs a 256-bit key")
    try:
        prepared = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(key)
    except jwt.InvalidKeyError:
        raise ValueError("auth_jwt_secret looks like a public key; put a public key in auth_public_key") from None
    return _Key(prepared, ("HS256",))


def _public_key(setting: str) -> _Key:
    text = _non_empty("auth_public_key", setting).strip()
    if "-----BEGIN" in text:
        # A PEM squeezed into one environment variable often has its newlines written as \n.
        data = (text if "\n" in text else text.replace("\\n", "\n")).encode()
    else:
        path = Path(text).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"auth_public_key: cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ValueError("auth_public_key is not a PEM public key or certificate") from None
    return _asymmetric_key(key, "auth_public_key")


def _asymmetric_key(key: Any, where: str) -> _Key:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"{where}: the RSA key has {key.key_size} bits; at least 2048 are needed")
        return _Key(key, ("RS256",))
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{where}: the EC key is on {key.curve.name}; only P-256 (ES256) is supported")
        return _Key(key, ("ES256",))
    raise ValueError(f"{where}: only RSA (RS256) and EC P-256 (ES256) public keys are supported")
