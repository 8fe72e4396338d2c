"""Test set-up: every storage test runs on SQLite and, when HIVEBASE_TEST_DATABASE_URL is set, PostgreSQL.

In CI (``CI=true``) a missing or unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hivebase.config import Settings
from hivebase.core.apps import App
from hivebase.db.engine import drop_schemas
from hivebase.hub import Hub

PG_URL = os.environ.get("HIVEBASE_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    import asyncpg

    from hivebase.db.engine import normalize_url

    async def probe() -> None:
        url = normalize_url(PG_URL).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:  # any failure to connect is reported as such
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_STATE: dict[str, str | None] = {}


def require_postgres() -> None:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but HIVEBASE_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI")
        pytest.skip("HIVEBASE_TEST_DATABASE_URL not set")
    if "error" not in _PG_STATE:
        _PG_STATE["error"] = _pg_reachable()
    if _PG_STATE["error"]:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable in CI: {_PG_STATE['error']}")
        pytest.skip(f"PostgreSQL unreachable: {_PG_STATE['error']}")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    """Settings for an isolated data dir; on PostgreSQL a schema prefix unique to this test."""
    if backend == "postgres":
        return Settings(data_dir=tmp_path / "data", database_url=PG_URL,
                        schema_prefix=f"t{secrets.token_hex(4)}_", catalog_refresh_seconds=0)
    return Settings(data_dir=tmp_path / "data", catalog_refresh_seconds=0)


async def drop_prefixed_schemas(settings: Settings) -> None:
    if settings.database_url and settings.schema_prefix:
        await drop_schemas(settings.database_url, settings.schema_prefix)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[Hub]:
    h = Hub(settings)
    await h.start()
    await h.init_main()
    try:
        yield h
    finally:
        await h.close()
        await drop_prefixed_schemas(settings)


@pytest.fixture
async def app(hub: Hub) -> App:
    return await hub.apps.open("main")
