"""Settings from ``<data dir>/hivebase.toml`` and ``HIVEBASE_*`` environment variables (these win)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

CONFIG_FILE = "hivebase.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIVEBASE_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Where SQLite files, uploads and the secret live.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy-style URL; empty means embedded SQLite files in the data dir. "
        "postgresql://user@host/db puts every app in its own schema of one database.",
    )
    public_url: str = Field(default="http://127.0.0.1:8080", description="Base URL clients use to reach us.")
    redis_url: str | None = Field(default=None, description="Redis for multi-process deployments (optional).")
    host: str = Field(default="127.0.0.1", description="Interface `hivebase serve` listens on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `hivebase serve` listens on.")
    secret_key: str | None = Field(
        default=None,
        description="Key that encrypts app keys at rest; defaults to <data dir>/secret.key (created on init).",
    )
    catalog_refresh_seconds: float = Field(
        default=1.0, ge=0,
        description="How stale another process's schema change, role change or app key rotation may look to this one."
    )
    pool_size: int | None = Field(default=None, ge=1, le=200,
                                  description="Database connections kept per engine (default: 5 per SQLite file, "
                                  "20 for PostgreSQL, which every app shares).")
    schema_prefix: str = Field(default="", pattern=r"^[a-z0-9_]{0,20}$",
                               description="Prefix of every PostgreSQL schema we create (to share a database).")
    sms_sender: str = Field(
        default="outbox",
        description="`outbox` records SMS in the app's outbox (development, tests); `package.module:Class` "
        "names a plug-in sender.",
    )
    sms_code_ttl_seconds: int = Field(default=600, ge=30, le=86400, description="How long an SMS code is valid.")
    sms_min_interval_seconds: int = Field(default=60, ge=0, le=3600,
                                          description="Least time between two codes sent to one number.")
    sms_max_per_hour: int = Field(default=10, ge=1, le=1000, description="Most codes sent to one number per hour.")

    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30,
                                description="Largest JSON request body the REST API accepts.")
    file_max_bytes: int = Field(default=10 << 20, ge=1, le=1 << 34, description="Largest file upload accepted.")
    file_storage: str = Field(default="local", pattern=r"^(local|s3)$",
                              description="`local`: files under <data dir>/files; `s3`: an S3-compatible bucket.")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (empty: AWS).")
    s3_bucket: str | None = Field(default=None, description="Bucket that holds uploaded files.")
    s3_region: str | None = Field(default=None, description="Region of the bucket.")
    s3_access_key: str | None = Field(default=None, description="S3 access key id.")
    s3_secret_key: str | None = Field(default=None, description="S3 secret access key.")
    function_timeout_seconds: float = Field(default=10.0, gt=0, le=600,
                                            description="Longest a cloud function may run before it is abandoned.")

    mcp_stateless: bool = Field(default=False, description="Streamable HTTP without sessions: every POST stands "
                                "alone (no server-to-client requests).")
    mcp_json_response: bool = Field(default=True, description="Streamable HTTP answers each POST with a plain JSON "
                                    "body; false answers with an SSE stream (costs ~1.7 ms CPU more per call).")
    mcp_session_idle_seconds: float = Field(default=1800, gt=0, le=86400,
                                            description="A stateful MCP session unused this long is closed.")
    mcp_max_sessions: int = Field(default=10_000, ge=1, le=1_000_000,
                                  description="Most stateful streamable-HTTP sessions open at once (then 503).")
    mcp_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host headers the MCP endpoints accept besides loopback names and the public URL's host; "
        "`*` turns the DNS-rebinding check off.")
    mcp_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origin headers (browsers) the MCP endpoints accept besides loopback and the public URL.")

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _toml_source(settings_cls, init_settings))


def _toml_source(settings_cls: type[BaseSettings], init: PydanticBaseSettingsSource) -> PydanticBaseSettingsSource:
    init_values: dict[str, Any] = init()
    data_dir = init_values.get("data_dir") or os.environ.get("HIVEBASE_DATA_DIR") or "./data"
    return TomlConfigSettingsSource(settings_cls, toml_file=Path(data_dir) / CONFIG_FILE)


def load_settings(**overrides: Any) -> Settings:
    """Settings for a data dir; ``None`` overrides are ignored so CLI defaults never mask the file."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
