"""SMS codes on real databases: issue, verify, take, expiry, rate limits, hostile input, senders."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
from typing import Any

import pytest
import sqlalchemy as sa

from hivebase.config import Settings
from hivebase.core.apps import App
from hivebase.core.identity import sms
from hivebase.core.identity.sms import OutboxSender, SmsCodes, load_sender
from hivebase.core.principal import Principal
from hivebase.errors import HivebaseError, InvalidValue, LimitExceeded, PermissionDenied, SmsSendFailed, TypeMismatch

pytestmark = pytest.mark.anyio

PHONE = "+8613800138000"
OTHER = "13900139000"
USER = Principal("user", app="main", user_id="u1", role="member", roles=("member",))
CLIENT = Principal.client("main")


class RecordingSender:
    """A plug-in sender, loaded by name through ``load_sender``."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def send(self, app: App, phone: str, message: str, code: str, template: str) -> None:
        self.sent.append({"app": app.name, "phone": phone, "message": message, "code": code, "template": template})


class FailingSender:
    async def send(self, app: App, phone: str, message: str, code: str, template: str) -> None:
        raise RuntimeError(f"provider said no to {code} (token=abc)")


NOT_A_CLASS = "just a string"


def tuned(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


async def rows(app: App, table: str) -> list[dict[str, Any]]:
    t = app.catalog.system(table)
    async with app.db.read() as conn:
        return [dict(r) for r in (await conn.execute(sa.select(t))).mappings()]


async def verify(codes: SmsCodes, app: App, phone: Any, code: Any, consume: bool = True) -> None:
    async with app.db.write() as conn:
        await codes.verify(conn, app, phone, code, consume=consume)


async def take(codes: SmsCodes, app: App, code: Any) -> str:
    async with app.db.write() as conn:
        return await codes.take(conn, app, code)


async def code_for(codes: SmsCodes, app: App, phone: str) -> str:
    return str((await codes.outbox(app, phone, limit=1))[0]["code"])


async def expect_wrong(call: Any) -> None:
    with pytest.raises(InvalidValue) as info:
        await call
    assert info.value.reason == "sms_code" and info.value.field == "smsCode"
    assert info.value.message == "SMS code is wrong or expired"


async def test_request_verify_and_no_reuse(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    sms_id = await codes.request(app, USER, PHONE, "signup")
    [sent] = await codes.outbox(app)
    code = sent["code"]
    assert re.fullmatch(r"[0-9]{6}", code)
    assert sent["message"] == f"Your verification code is {code}. It expires in 10 minutes."
    assert {k: sent[k] for k in ("mobilePhoneNumber", "template")} == {"mobilePhoneNumber": PHONE,
                                                                      "template": "signup"}
    assert dt.datetime.fromisoformat(sent["createdAt"]).tzinfo is not None
    [row] = await rows(app, "_hb_sms_codes")
    assert row["id"] == sms_id and row["phone"] == PHONE and row["attempts"] == 0 and row["used_at"] is None
    assert row["code_hash"] == hashlib.sha256(code.encode()).hexdigest()
    assert code not in repr(row)  # only the hash is stored
    assert dt.timedelta(seconds=599) < row["expires_at"] - row["created_at"] <= dt.timedelta(seconds=600)

    await verify(codes, app, PHONE, code, consume=False)
    await verify(codes, app, PHONE, code)
    [row] = await rows(app, "_hb_sms_codes")
    assert row["used_at"] is not None
    await expect_wrong(verify(codes, app, PHONE, code))
    await expect_wrong(verify(SmsCodes(settings), app, PHONE, code))
    await expect_wrong(take(codes, app, code))


async def test_wrong_codes_count_and_five_kill_the_code(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    await codes.request(app, CLIENT, PHONE)
    code = await code_for(codes, app, PHONE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    await expect_wrong(verify(codes, app, PHONE, wrong))
    await codes.settle()  # the count outlives the caller's rolled-back transaction
    assert [r["attempts"] for r in await rows(app, "_hb_sms_codes")] == [1]
    await verify(codes, app, PHONE, code, consume=False)  # still alive after one wrong guess

    for _ in range(4):  # no settling: the guesses count at once in this process
        await expect_wrong(verify(codes, app, PHONE, wrong))
    await expect_wrong(verify(codes, app, PHONE, code))  # dead
    await codes.settle()
    assert [r["attempts"] for r in await rows(app, "_hb_sms_codes")] == [5]
    await expect_wrong(verify(SmsCodes(settings), app, PHONE, code))  # dead for every process
    await expect_wrong(take(SmsCodes(settings), app, code))
    await codes.settle()
    assert [r["attempts"] for r in await rows(app, "_hb_sms_codes")] == [5]  # the right code costs nothing
    await expect_wrong(verify(codes, app, PHONE, wrong))
    await codes.settle()
    assert [r["attempts"] for r in await rows(app, "_hb_sms_codes")] == [6]  # wrong ones still count


async def test_expired_codes_are_refused(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    await codes.request(app, USER, PHONE)
    code = await code_for(codes, app, PHONE)
    t = app.catalog.system("_hb_sms_codes")
    async with app.db.write() as conn:
        await conn.execute(sa.update(t).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    await expect_wrong(verify(codes, app, PHONE, code))
    await expect_wrong(take(codes, app, code))
    await codes.settle()
    assert [r["attempts"] for r in await rows(app, "_hb_sms_codes")] == [0]


async def test_newest_code_wins(app: App, settings: Settings) -> None:
    codes = SmsCodes(tuned(settings, sms_min_interval_seconds=0))
    await codes.request(app, USER, PHONE)
    old = await code_for(codes, app, PHONE)
    await codes.request(app, USER, PHONE)
    new = await code_for(codes, app, PHONE)
    await expect_wrong(verify(codes, app, PHONE, old))
    await verify(codes, app, PHONE, new)


async def test_rate_limit_interval_counts_from_the_database(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    await codes.request(app, USER, PHONE)
    for instance in (codes, SmsCodes(settings)):
        with pytest.raises(LimitExceeded) as info:
            await instance.request(app, USER, PHONE)
        err = info.value
        assert (err.reason, err.field) == ("rate_limit", "mobilePhoneNumber")
        assert 1 <= err.details["retryAfter"] <= 60
    await codes.request(app, USER, OTHER)  # other numbers are not held up
    assert len(await rows(app, "_hb_sms_codes")) == 2


async def test_rate_limit_per_hour_is_rolling(app: App, settings: Settings) -> None:
    hourly = tuned(settings, sms_min_interval_seconds=0, sms_max_per_hour=3)
    codes = SmsCodes(hourly)
    for _ in range(3):
        await codes.request(app, USER, PHONE)
    for instance in (codes, SmsCodes(hourly)):
        with pytest.raises(LimitExceeded) as info:
            await instance.request(app, USER, PHONE)
        assert info.value.reason == "rate_limit" and 3590 <= info.value.details["retryAfter"] <= 3600
    t = app.catalog.system("_hb_sms_codes")
    hour = dt.timedelta(minutes=61)
    async with app.db.write() as conn:  # the oldest code leaves the window
        oldest = (await conn.execute(sa.select(t).order_by(t.c.created_at).limit(1))).mappings().one()
        await conn.execute(sa.update(t).where(t.c.id == oldest["id"]).values(
            created_at=oldest["created_at"] - hour, expires_at=oldest["expires_at"] - hour))
    await codes.request(app, USER, PHONE)
    assert len(await rows(app, "_hb_sms_codes")) == 3  # the stale expired row was cleared


async def test_concurrent_requests_send_one_code(app: App, settings: Settings) -> None:
    results = await asyncio.gather(*(SmsCodes(settings).request(app, USER, PHONE) for _ in range(5)),
                                   return_exceptions=True)
    assert sum(isinstance(r, str) for r in results) == 1
    assert all(isinstance(r, LimitExceeded) for r in results if not isinstance(r, str))
    assert len(await rows(app, "_hb_sms_codes")) == len(await rows(app, "_hb_sms_outbox")) == 1


async def test_concurrent_verifies_consume_once(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    await codes.request(app, USER, PHONE)
    code = await code_for(codes, app, PHONE)
    results = await asyncio.gather(*(verify(codes, app, PHONE, code) for _ in range(4)), return_exceptions=True)
    assert results.count(None) == 1
    assert all(isinstance(r, InvalidValue) and r.reason == "sms_code" for r in results if r is not None)


async def test_take_finds_the_number_by_code_alone(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    await codes.request(app, USER, PHONE)
    await codes.request(app, USER, OTHER)
    mine, theirs = await code_for(codes, app, PHONE), await code_for(codes, app, OTHER)
    assert mine != theirs
    assert await take(codes, app, mine) == PHONE
    await expect_wrong(take(codes, app, mine))
    await expect_wrong(verify(codes, app, PHONE, mine))
    async with app.db.write() as conn:  # a rolled-back take leaves the code usable
        assert await codes.take(conn, app, theirs) == OTHER
        await conn.rollback()
    assert await take(SmsCodes(settings), app, theirs) == OTHER


async def test_take_guesses_are_rate_limited(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    await codes.request(app, USER, PHONE)
    code = await code_for(codes, app, PHONE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for guess in [wrong] * 8 + [None, "12"]:  # malformed guesses are failures too
        await expect_wrong(take(codes, app, guess))
    with pytest.raises(LimitExceeded) as info:
        await take(codes, app, code)  # even the right code, until the window moves
    assert info.value.reason == "rate_limit" and 1 <= info.value.details["retryAfter"] <= 60
    await codes.settle()
    assert [r["used_at"] for r in await rows(app, "_hb_sms_codes")] == [None]


async def test_codes_are_unique_among_live_codes(app: App, settings: Settings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([111111, 111111, 111111, 222222])
    monkeypatch.setattr(sms.secrets, "randbelow", lambda _n: next(draws))
    codes = SmsCodes(settings)
    await codes.request(app, USER, PHONE)
    await codes.request(app, USER, OTHER)
    assert [m["code"] for m in await codes.outbox(app)] == ["222222", "111111"]
    monkeypatch.setattr(sms.secrets, "randbelow", lambda _n: 111111)
    with pytest.raises(LimitExceeded) as info:
        await codes.request(app, USER, "+4915112345678")
    assert info.value.reason == "sms_busy"
    assert len(await rows(app, "_hb_sms_codes")) == 2


HOSTILE_PHONES: list[tuple[Any, type[HivebaseError], str]] = [
    (8613800138000, TypeMismatch, "type"),
    (None, TypeMismatch, "type"),
    (["+8613800138000"], TypeMismatch, "type"),
    ({"$ne": ""}, TypeMismatch, "type"),
    ("1" * 10_000, InvalidValue, "phone"),
    ("1; DROP TABLE _hb_sms_codes", InvalidValue, "phone"),
    ("12345", InvalidValue, "phone"),
    ("+" + "1" * 21, InvalidValue, "phone"),
    ("13800138000\n", InvalidValue, "phone"),
    ("１３８００１３８０００", InvalidValue, "phone"),  # full-width digits
    ("++8613800138000", InvalidValue, "phone"),
    ("", InvalidValue, "phone"),
]
HOSTILE_TEMPLATES: list[tuple[Any, type[HivebaseError], str]] = [
    ('it"s', InvalidValue, "template"),
    ("o'clock", InvalidValue, "template"),
    ("x" * 65, InvalidValue, "template"),
    ("a b", InvalidValue, "template"),
    (5, TypeMismatch, "type"),
    ({"t": 1}, TypeMismatch, "type"),
]
HOSTILE_CODES: list[Any] = [None, {"$gt": ""}, ["123456"], 123456, "", "12345", "1234567", "12345a", "123456\n",
                            "1' OR '1'='1", "x" * 10_000]


async def test_hostile_input_is_refused_and_writes_nothing(app: App, settings: Settings) -> None:
    codes = SmsCodes(settings)
    for phone, kind, reason in HOSTILE_PHONES:
        with pytest.raises(kind) as info:
            await codes.request(app, USER, phone)
        assert (info.value.reason, info.value.field) == (reason, "mobilePhoneNumber"), phone
        assert len(info.value.message) < 200
    for template, kind, reason in HOSTILE_TEMPLATES:
        with pytest.raises(kind) as info:
            await codes.request(app, USER, PHONE, template)
        assert (info.value.reason, info.value.field) == (reason, "template"), template
    assert await rows(app, "_hb_sms_codes") == [] and await rows(app, "_hb_sms_outbox") == []

    await codes.request(app, USER, PHONE, None)  # no template
    code = await code_for(codes, app, PHONE)
    for bad in HOSTILE_CODES:
        await expect_wrong(verify(codes, app, PHONE, bad))
    for phone, _, _ in HOSTILE_PHONES:
        await expect_wrong(verify(codes, app, phone, code))
    await codes.settle()
    [row] = await rows(app, "_hb_sms_codes")
    assert row["attempts"] == 0 and row["used_at"] is None  # malformed input costs no attempt
    for phone, kind, _ in HOSTILE_PHONES:
        if phone is None:
            continue  # no filter: every message
        with pytest.raises(kind):
            await codes.outbox(app, phone)
    for limit in (0, 1001, -1, "5", 2.5, True):
        with pytest.raises(InvalidValue):
            await codes.outbox(app, limit=limit)  # type: ignore[arg-type]
    await verify(codes, app, PHONE, code)


@pytest.mark.parametrize("principal", [None, Principal.nobody("main")], ids=["none", "nobody"])
async def test_unauthenticated_callers_are_refused(app: App, settings: Settings, principal: Any) -> None:
    with pytest.raises(PermissionDenied) as info:
        await SmsCodes(settings).request(app, principal, PHONE)
    assert info.value.reason == "unauthenticated"
    assert await rows(app, "_hb_sms_codes") == [] and await rows(app, "_hb_sms_outbox") == []


async def test_credentials_of_another_app_are_refused(app: App, settings: Settings) -> None:
    with pytest.raises(PermissionDenied) as info:
        await SmsCodes(settings).request(app, Principal.client("shop"), PHONE)
    assert info.value.reason == "app"
    await SmsCodes(settings).request(app, Principal.root(), PHONE)  # not bound to an app: any app


async def test_a_failing_sender_leaves_nothing(app: App, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SmsSendFailed) as info:
        await SmsCodes(settings, FailingSender()).request(app, USER, PHONE)
    err = info.value
    assert err.reason == "sms_send_failed" and isinstance(err, HivebaseError) and err.status == 502
    assert "provider" not in err.message and "token" not in str(err.to_dict())
    assert "provider" not in caplog.text and "token" not in caplog.text and "FailingSender" in caplog.text
    assert await rows(app, "_hb_sms_codes") == [] and await rows(app, "_hb_sms_outbox") == []
    await SmsCodes(settings).request(app, USER, PHONE)  # a failed send does not hold the number up


async def test_plug_in_sender_is_loaded_by_name(app: App, settings: Settings) -> None:
    codes = SmsCodes(tuned(settings, sms_sender="tests.core.test_sms:RecordingSender"))
    sender = codes.sender
    assert isinstance(sender, RecordingSender)
    sms_id = await codes.request(app, USER, OTHER, "reset-1")
    [sent] = sender.sent
    assert sent["app"] == "main" and sent["phone"] == OTHER and sent["template"] == "reset-1"
    assert sent["code"] in sent["message"] and await codes.outbox(app) == []
    [row] = await rows(app, "_hb_sms_codes")
    assert row["id"] == sms_id
    await verify(codes, app, OTHER, sent["code"])


BAD_SENDERS = [
    ("", "sms_sender must be"),
    ("nope", "sms_sender must be"),
    ("a:b:c", "sms_sender must be"),
    ("os.system('x'):Y", "sms_sender must be"),
    ("no_such_module_here:Sender", "cannot import"),
    ("tests.core.test_sms:Missing", "has no class"),
    ("tests.core.test_sms:NOT_A_CLASS", "has no class"),
    ("tests.core.test_sms:Principal", "raised TypeError"),
    ("builtins:object", "has no `async def send"),
]


def test_load_sender() -> None:
    assert isinstance(load_sender("outbox"), OutboxSender)
    assert isinstance(load_sender("tests.core.test_sms:RecordingSender"), RecordingSender)
    for spec, text in [*BAD_SENDERS, (42, "sms_sender must be")]:
        with pytest.raises(InvalidValue) as info:
            load_sender(spec)  # type: ignore[arg-type]
        assert info.value.reason == "sms_sender" and text in info.value.message, (spec, info.value.message)
    with pytest.raises(InvalidValue):
        SmsCodes(Settings(sms_sender="no_such_module_here:Sender"))
