"""Dates as query operands: periods (a year, month or day in the caller's time zone) and time zone offsets.

NocoBase's date operators take ``"2024-01-05"`` to mean that whole day *where the caller is*, so a bare
date becomes a ``[start, end)`` range of UTC instants computed with the caller's offset; a full datetime is
one exact instant (a naive one is read in the caller's offset too, one with ``Z``/offset as written).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from hivebase.errors import InvalidQuery, InvalidValue, TypeMismatch, type_of

MAX_OFFSET_MINUTES = 14 * 60
PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}$")
EXPECTED = "a date string (YYYY-MM-DD or ISO 8601)"


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in UTC; ``end`` is None for one exact instant."""

    start: dt.datetime
    end: dt.datetime | None = None


def zone(offset_minutes: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(minutes=offset_minutes))


def parse_period(value: Any, field: str, offset_minutes: int = 0, table: str | None = None) -> Period:
    """``YYYY``/``YYYY-MM``/``YYYY-MM-DD`` → that whole period in the offset; a datetime → one instant."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=zone(offset_minutes))
        return Period(aware.astimezone(dt.UTC))
    if isinstance(value, dict) and value.get("__type") == "Date" and isinstance(value.get("iso"), str):
        value = value["iso"]
    if not isinstance(value, str):
        raise TypeMismatch(table, field, EXPECTED, type_of(value))
    text = value.strip()
    m = PERIOD.match(text)
    if m:
        return _calendar_period(m, text, field, offset_minutes, table)
    if not 10 <= len(text) <= 40:
        raise _bad(text, field, table)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _bad(text, field, table) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(offset_minutes))
    return Period(parsed.astimezone(dt.UTC))


def _calendar_period(m: re.Match[str], text: str, field: str, offset: int, table: str | None) -> Period:
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    tz = zone(offset)
    try:
        start = dt.datetime(year, month, day, tzinfo=tz)
        if m[3]:
            end = start + dt.timedelta(days=1)
        elif m[2]:
            end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        else:
            end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
    except (ValueError, OverflowError):
        raise _bad(text, field, table) from None
    return Period(start.astimezone(dt.UTC), end.astimezone(dt.UTC))


def parse_instant(value: Any, field: str, offset_minutes: int = 0, table: str | None = None) -> dt.datetime:
    """An operand compared exactly: the start of a bare date's period, or the datetime itself."""
    return parse_period(value, field, offset_minutes, table).start


def _bad(text: str, field: str, table: str | None) -> InvalidValue:
    return InvalidValue(f"`{field}`: {text[:40]!r} is not a date (use YYYY-MM-DD or ISO 8601)",
                        field=field, table=table, reason="date")


def parse_timezone(value: Any, now: dt.datetime | None = None) -> int:
    """``+08:00``, ``-0530``, ``+8``, ``UTC``/``Z`` or an IANA name (its offset at ``now``) → minutes east."""
    if value is None:
        return 0
    if not isinstance(value, str):
        raise InvalidQuery("timezone must be a string such as +08:00 or Asia/Shanghai, received "
                           f"{type_of(value)}", field="timezone")
    text = value.strip()
    if text.upper() in ("", "Z", "UTC", "GMT"):
        return 0
    m = OFFSET.match(text)
    if m:
        minutes = int(m[2]) * 60 + int(m[3] or 0)
        if int(m[3] or 0) < 60 and minutes <= MAX_OFFSET_MINUTES:
            return minutes if m[1] == "+" else -minutes
    elif ZONE_NAME.match(text) and len(text) <= 64:
        try:
            tz = zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            offset = (now or dt.datetime.now(dt.UTC)).astimezone(tz).utcoffset() or dt.timedelta()
            return int(offset.total_seconds() // 60)
    raise InvalidQuery(f"timezone {text[:40]!r} is not recognised; use an offset such as +08:00 or -0530, "
                       "UTC, or an IANA name such as Asia/Shanghai", field="timezone")
