"""The running core: settings, storage engines, the secret vault and the app registry."""

from __future__ import annotations

from hivebase.config import Settings
from hivebase.core.apps import MAIN, AppRegistry, Credentials
from hivebase.core.files import Files
from hivebase.core.functions.runner import FunctionRunner
from hivebase.core.identity.bootstrap import prepare_app
from hivebase.core.identity.sms import SmsCodes
from hivebase.core.secrets import Vault
from hivebase.db.engine import Engines


class Hub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engines = Engines(settings.data_dir, settings.database_url, settings.pool_size,
                               settings.schema_prefix)
        self.vault = Vault.for_data_dir(settings.data_dir, settings.secret_key)
        self.sms = SmsCodes(settings)  # one per process: it holds the in-memory guess limits
        self.functions = FunctionRunner(settings)  # one per process: it tracks the calls' threads
        self.apps = AppRegistry(self.engines, self.vault, settings.catalog_refresh_seconds, on_open=prepare_app)
        self.files = Files(settings, self.apps)

    async def start(self) -> None:
        await self.apps.bootstrap()

    async def init_main(self) -> Credentials | None:
        """Create the main app when it does not exist yet; its fresh credentials, else None."""
        if await self.apps.exists(MAIN):
            return None
        return await self.apps.create(MAIN)

    async def close(self) -> None:
        await self.engines.dispose()

    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
