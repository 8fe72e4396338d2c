from __future__ import annotations

import pytest

from hivebase.errors import Conflict, InvalidName, NotFound
from hivebase.hub import Hub

pytestmark = pytest.mark.anyio


async def test_main_app_has_distinct_random_keys(hub: Hub) -> None:
    creds = await hub.apps.credentials("main")
    keys = {creds.application_id, creds.rest_api_key, creds.master_key}
    assert len(keys) == 3 and all(k and len(k) == 32 for k in keys)
    assert await hub.apps.check_key("main", creds.master_key or "", "master")
    assert not await hub.apps.check_key("main", creds.rest_api_key or "", "master")


async def test_keys_are_not_stored_in_clear(hub: Hub) -> None:
    creds = await hub.apps.credentials("main")
    async with hub.apps.system.read() as conn:
        row = (await conn.execute(hub.apps.t_apps.select())).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert creds.master_key not in stored and creds.rest_api_key not in stored


async def test_sub_apps_are_isolated(hub: Hub) -> None:
    from hivebase.core import schema
    from hivebase.core.principal import Principal

    other = await hub.apps.create("shop-2")
    assert other.application_id != (await hub.apps.credentials("main")).application_id
    main, shop = await hub.apps.open("main"), await hub.apps.open("shop-2")
    await schema.create_table(shop, Principal.root(), "Order", {"total": {"type": "Number"}})
    assert "Order" in shop.catalog.names()
    await main.catalog.refresh(force=True)
    assert "Order" not in main.catalog.names()
    assert [a["app"] for a in await hub.apps.list()] == ["main", "shop-2"]
    await hub.apps.delete("shop-2")
    with pytest.raises(NotFound):
        await hub.apps.open("shop-2")


@pytest.mark.parametrize("name", ["", "Main", "a b", "x" * 41, "../etc", "a;drop", "-lead", "é"])
async def test_bad_app_names(hub: Hub, name: str) -> None:
    with pytest.raises(InvalidName):
        await hub.apps.create(name)


async def test_main_cannot_be_deleted_and_names_are_unique(hub: Hub) -> None:
    with pytest.raises(Conflict):
        await hub.apps.delete("main")
    with pytest.raises(InvalidName):
        await hub.apps.create("main")


async def test_rotate_invalidates_old_key(hub: Hub) -> None:
    old = await hub.apps.credentials("main")
    new = await hub.apps.rotate("main", "master")
    assert new.master_key != old.master_key and new.rest_api_key == old.rest_api_key
    assert not await hub.apps.check_key("main", old.master_key or "", "master")
    assert await hub.apps.check_key("main", new.master_key or "", "master")
