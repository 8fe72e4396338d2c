"""Everything an app needs before its first caller: the ``_User`` table and the built-in roles."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from hivebase.core import roles
from hivebase.core.apps import App
from hivebase.core.identity.user_table import USER_FIELDS
from hivebase.core.model import USER_TABLE
from hivebase.core.schema import create_system_table
from hivebase.errors import HivebaseError


async def prepare_app(app: App) -> None:
    """Idempotent, and safe when several processes open the same new app at once."""
    if app.catalog.lookup(USER_TABLE) is None:
        try:
            await create_system_table(app, USER_TABLE, USER_FIELDS, "users of the app: sign-up, sign-in, roles")
        except (HivebaseError, DBAPIError):
            await app.catalog.refresh(force=True)
            if app.catalog.lookup(USER_TABLE) is None:
                raise
    await roles.ensure_defaults(app)
