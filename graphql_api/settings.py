"""Settings, read once from the environment (and a `.env` file if present).

LiveKit's own variables keep their usual names (``LIVEKIT_URL``,
``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET``); everything of ours is ``GXRTC_*``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Where dev scripts keep what they fetch: `$GXRTC_CACHE_DIR`, else `$XDG_CACHE_HOME/gxrtc` or ~/.cache/gxrtc."""
    explicit = os.environ.get("GXRTC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gxrtc"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GXRTC_", env_file=".env", extra="ignore", populate_by_name=True)

    livekit_url: str = Field(
        default="http://127.0.0.1:7880",
        validation_alias=AliasChoices("LIVEKIT_URL", "GXRTC_LIVEKIT_URL"),
        description="Where the service reaches LiveKit's server API.",
    )
    livekit_api_key: str = Field(validation_alias=AliasChoices("LIVEKIT_API_KEY", "GXRTC_LIVEKIT_API_KEY"))
    livekit_api_secret: SecretStr = Field(
        validation_alias=AliasChoices("LIVEKIT_API_SECRET", "GXRTC_LIVEKIT_API_SECRET")
    )
    livekit_client_url: str | None = Field(
        default=None,
        description="The URL handed to clients with their token; defaults to LIVEKIT_URL as ws(s)://.",
    )
    livekit_timeout_seconds: float = Field(default=5.0, gt=0)
    livekit_max_connections: int = Field(default=100, gt=0)
    livekit_read_retries: int = Field(default=2, ge=0, description="Extra tries for idempotent reads on an outage.")
    livekit_breaker_threshold: int = Field(default=5, gt=0, description="Failures in a row that open the circuit.")
    livekit_breaker_cooldown_seconds: float = Field(
        default=5.0, gt=0, description="How long an open circuit fails fast."
    )
    telemetry: bool = Field(
        default=False,
        description=(
            "OpenTelemetry through the globally configured providers: FastAPI's native request spans, metrics and"
            " logs, and the service's spans of LiveKit, database and Redis calls (docs/operations.md)."
            " Off by default: even with no provider configured, checking costs every request some time."
        ),
    )
    metrics: bool = Field(
        default=True,
        description=(
            "Serve Prometheus metrics at /metrics, to the admin credential only, and count every request for them "
            "(docs/operations.md)."
        ),
    )
    access_log: bool = Field(
        default=False,
        description=(
            "One JSON line per request to the gxrtc.access log (docs/operations.md). Off by default: Python's"
            " logging costs about as much CPU as a token request itself."
        ),
    )
    max_in_flight: int = Field(default=512, gt=0, description="Requests in progress at once before new ones get 503.")
    max_in_flight_per_client: int = Field(
        default=256, gt=0, description="Requests in progress at once from one client address before its next get 429."
    )
    max_connections_per_client: int = Field(
        default=256,
        gt=0,
        description="Connections one client address may hold open at once; proxies in FORWARDED_ALLOW_IPS are exempt.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "How long a connection may take to send a request's head (from its opening, or from a request's first"
            " byte), and a WebSocket its connection_init; then it is closed."
        ),
    )
    body_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a request's body may take to arrive in full; then 408."
    )
    shutdown_timeout_seconds: int = Field(
        default=10, gt=0, description="How long a SIGTERM waits for requests in flight."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, validation_alias=AliasChoices("PORT", "GXRTC_PORT"))
    workers: int = Field(default=1, gt=0)
    fanout_concurrency: int = Field(
        default=16, gt=0, description="LiveKit calls in flight at once when one request lists many rooms' participants."
    )
    bulk_concurrency: int = Field(
        default=16, gt=0, description="LiveKit calls in flight at once for one bulk act (kickParticipants, ...)."
    )
    presence_sweep_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often the presence index is rebuilt from every room's participants; events keep it between.",
    )
    participant_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description=(
            "How old an overview (`rooms` with their `participants`) may be; room events refresh it at once."
            " 0 turns the cache off (concurrent requests still share one call per room)."
        ),
    )

    # Authentication. Any of these turns it on; see graphql_api/auth.py.
    auth_jwt_secret: SecretStr | None = Field(default=None, description="HS256 secret of the identity provider.")
    auth_public_key: str | None = Field(
        default=None, description="PEM public key (RSA for RS256, EC P-256 for ES256), or a path to one."
    )
    auth_jwks_url: str | None = Field(default=None, description="JWKS URL of the identity provider.")
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_roles_claim: str = "roles"
    auth_rooms_claim: str = "rooms"
    auth_leeway_seconds: int = Field(default=30, ge=0)
    auth_jwks_cache_seconds: int = Field(default=300, gt=0)
    auth_jwks_min_refetch_seconds: int = Field(
        default=30, gt=0, description="Unknown key ids refetch the JWKS at most this often."
    )
    api_keys: str | None = Field(
        default=None,
        description='Server-to-server keys as JSON: [{"name": "backend", "role": "admin", "sha256": "<hex>"}].',
    )
    admin_key: SecretStr | None = Field(default=None, description="One admin API key in plain text (dev and checks).")
    auth_brake_failures: int = Field(
        default=10,
        gt=0,
        description="Failed authentications one client address (or one API key prefix) may make per window.",
    )
    auth_brake_window_seconds: float = Field(
        default=60.0, gt=0, description="The window of auth_brake_failures; the allowance refills over it."
    )
    users_can_read: bool = Field(
        default=False,
        description="Let plain users list rooms and read participants (moderators and admins always can).",
    )

    redis_url: str | None = Field(
        default=None, description="Redis for room events across instances; without it, one instance's own broker."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the moderation store (postgresql+asyncpg://...); unset: SQLite in state_dir.",
    )
    database_timeout_seconds: float = Field(
        default=3.0, gt=0, description="Deadline of each database transaction (and PostgreSQL's connect and statement)."
    )
    database_pool_size: int = Field(
        default=5, gt=0, description="PostgreSQL connections kept open per process (as many again at a burst)."
    )
    audit_retention_days: float = Field(
        default=90, ge=0, description="Audit rows older than this are deleted; 0 keeps them forever."
    )
    state_dir: Path = Field(
        default=Path(".state"), description="Where the service keeps its own files (the SQLite store)."
    )
    webhook_max_age_seconds: float = Field(default=300, gt=0, description="Older LiveKit webhooks are refused.")
    reconcile_interval_seconds: float = Field(
        default=5, gt=0, description="How often rooms with subscribers are compared with LiveKit."
    )
    max_subscriptions_per_connection: int = Field(default=10, gt=0)

    env: Literal["dev", "production"] = "production"
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Where `make setup` puts what it fetches; dev serves GraphiQL's scripts from its `graphiql/`.",
    )
    console: bool | None = Field(
        default=None, description="Serve the moderation console at /console; unset: in dev only."
    )
    console_dir: Path | None = Field(default=None, description="The console's built files; unset: console/dist.")
    token_ttl_seconds: int = Field(default=3600, gt=0, description="Lifetime of a join token when none is asked for.")
    token_max_ttl_seconds: int = Field(default=86400, gt=0, description="The longest token an admin or moderator gets.")
    token_user_max_ttl_seconds: int = Field(default=14400, gt=0, description="The longest token a plain user gets.")
    user_publish_sources: list[Literal["camera", "microphone", "screen_share", "screen_share_audio"]] = Field(
        default=["camera", "microphone", "screen_share", "screen_share_audio"],
        description="What plain users' tokens let them publish; admins and moderators may publish anything.",
    )

    default_language: Literal["zh-CN", "en"] = Field(
        default="zh-CN", description="Language of error messages when Accept-Language names neither zh nor en."
    )
    cors_origins: list[str] = Field(
        default=[], description='Origins allowed by CORS, as JSON: ["https://app.example"].'
    )
    cors_allow_credentials: bool = False
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    max_websocket_message_bytes: int = Field(default=64 * 1024, gt=0)
    # LiveKit's own defaults (limit.max_metadata_size, max_attributes_size); larger would be refused upstream.
    max_metadata_bytes: int = Field(default=512 * 1024, gt=0)
    max_attributes_bytes: int = Field(default=64 * 1024, gt=0)
    graphql_max_depth: int = Field(default=10, gt=0)
    graphql_max_aliases: int = Field(default=30, gt=0)
    graphql_max_tokens: int = Field(default=2000, gt=0)
    graphql_max_query_bytes: int = Field(
        default=32 * 1024, gt=0, description="Longer GraphQL documents are refused before they are parsed."
    )

    @field_validator("livekit_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("LIVEKIT_URL must start with http://, https://, ws:// or wss://")
        return value.rstrip("/")

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.state_dir / 'gxrtc.sqlite3'}"

    @property
    def client_url(self) -> str:
        if self.livekit_client_url:
            return self.livekit_client_url
        url = self.livekit_url
        if url.startswith("http"):
            url = "ws" + url[len("http") :]
        return url
