"""`store.reportdata.load_records` reads plain tuples now: it must build exactly the records the
model-instance loader built (tests/reportdata_reference.py keeps that loader), for every filter
its callers use (the recap's year, the register's dates, one complaint by number)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta

import pytest
from appfixture import LocalApp
from reportdata_reference import START, populate, reference_load_records

from mailproc import store
from mailproc.config import Settings, load_settings
from mailproc.store import reportdata


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[str]]:
    local = LocalApp(tmp_path_factory.mktemp("reportdata"))
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    return settings, populate(1200, seed=11)  # > 900: the reference's chunks are crossed


def both(settings: Settings, **kwargs: object) -> tuple[list, list]:
    calls_new: list[tuple[int, int]] = []
    calls_old: list[tuple[int, int]] = []
    new = reportdata.load_records(settings, progress=lambda *a: calls_new.append(a), **kwargs)
    old = reference_load_records(settings, progress=lambda *a: calls_old.append(a), **kwargs)
    assert calls_new == calls_old
    return new, old


def check(settings: Settings, **kwargs: object) -> int:
    new, old = both(settings, **kwargs)
    assert new == old
    # repr too: == would let 1 pass for True and an aware datetime in another zone for UTC
    assert [repr(r) for r in new] == [repr(r) for r in old]
    return len(new)


def test_everything(populated: tuple[Settings, list[str]]) -> None:
    settings, numbers = populated
    assert check(settings) == len(numbers)


def test_the_awkward_cases_are_in_the_data(populated: tuple[Settings, list[str]]) -> None:
    settings, _ = populated
    records = reportdata.load_records(settings)
    assert any(r.customer == "" for r in records)  # no customer
    assert any(r.customer and r.customer == r.customer_email for r in records)  # no name
    assert any(r.return_claim == "diterima" for r in records)
    assert any(r.return_claim.startswith("KL-") for r in records)
    assert any(len(r.cycles) == 3 for r in records)
    assert any(not r.valid for r in records)
    assert any(c.whys and c.actions for r in records for c in r.cycles)
    assert {type(r.return_requested) for r in records} == {bool}


def test_received_ranges(populated: tuple[Settings, list[str]]) -> None:
    settings, _ = populated
    records = reportdata.load_records(settings)
    middle = records[len(records) // 2].received_at  # exactly on a receipt: bounds matter
    assert 0 < check(settings, received_from=middle) < len(records)
    assert 0 < check(settings, received_to=middle) < len(records)
    assert check(settings, received_from=START + timedelta(days=30),
                 received_to=START + timedelta(days=60)) > 0
    wib = middle.astimezone(settings.timezone)  # aware in another zone
    assert check(settings, received_from=wib, received_to=wib + timedelta(days=3)) > 0
    assert check(settings, received_from=START.replace(year=2030)) == 0


def test_numbers(populated: tuple[Settings, list[str]]) -> None:
    settings, numbers = populated
    for number in numbers[:40]:
        assert check(settings, numbers=[number]) == 1
    assert check(settings, numbers=numbers[100:130] + ["9999/PTPP/MKT/2026"]) == 30
    assert check(settings, numbers=[]) == 0


def test_datetimes_are_utc(populated: tuple[Settings, list[str]]) -> None:
    settings, _ = populated
    for r in reportdata.load_records(settings)[:200]:
        assert r.received_at.tzinfo is UTC
        for c in r.cycles:
            assert c.issued_at is None or c.issued_at.tzinfo is UTC



def test_without_cycles(populated: tuple[Settings, list[str]]) -> None:
    settings, _ = populated
    full = reportdata.load_records(settings)
    light = reportdata.load_records(settings, with_cycles=False)
    assert any(r.cycles for r in full)
    assert light == [replace(r, cycles=()) for r in full]
