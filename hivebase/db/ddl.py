"""DDL that SQLAlchemy Core has no construct for, emitted with the dialect's own identifier quoting."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateColumn

MAX_IDENTIFIER = 63  # PostgreSQL's limit; SQLite has none


def short_name(*parts: str, prefix: str) -> str:
    """A deterministic identifier within PostgreSQL's 63-byte limit."""
    name = prefix + "_".join(parts)
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:16]
    return f"{prefix}{digest}"


def _table_sql(conn: AsyncConnection, table: sa.Table) -> str:
    return conn.dialect.identifier_preparer.format_table(table)


def _quote(conn: AsyncConnection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


async def add_column(conn: AsyncConnection, table: sa.Table, column: sa.Column[object]) -> None:
    spec = CreateColumn(column).compile(dialect=conn.dialect)
    await conn.exec_driver_sql(f"ALTER TABLE {_table_sql(conn, table)} ADD COLUMN {spec}")


async def drop_column(conn: AsyncConnection, table: sa.Table, name: str) -> None:
    await conn.exec_driver_sql(f"ALTER TABLE {_table_sql(conn, table)} DROP COLUMN {_quote(conn, name)}")


async def rename_column(conn: AsyncConnection, table: sa.Table, old: str, new: str) -> None:
    await conn.exec_driver_sql(
        f"ALTER TABLE {_table_sql(conn, table)} RENAME COLUMN {_quote(conn, old)} TO {_quote(conn, new)}"
    )
