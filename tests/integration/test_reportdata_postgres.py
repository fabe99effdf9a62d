"""`store.reportdata.load_records` on PostgreSQL: the driver hands back datetimes and booleans
where SQLite hands back strings and integers; the records must still be exactly the reference
loader's (tests/reportdata_reference.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from appfixture import LocalApp
from pgserver import PostgresServer, start_for_tests
from reportdata_reference import START, populate, reference_load_records

from mailproc import store
from mailproc.config import load_settings
from mailproc.store import reportdata


@pytest.fixture(scope="module")
def postgres(request: pytest.FixtureRequest) -> PostgresServer:
    return start_for_tests(request)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    url = postgres.create_database()
    try:
        yield url
    finally:
        store.db.close()
        postgres.drop_database(url.rsplit("/", 1)[1])


def test_same_records_as_the_model_loader(pg_url: str, tmp_path: Path) -> None:
    settings = load_settings(LocalApp(tmp_path).config, {})  # labels and department names
    store.open_database(pg_url)
    assert not store.is_sqlite()
    store.init_schema()
    numbers = populate(300, seed=5)
    for kwargs in ({}, {"received_from": START + timedelta(days=40),
                        "received_to": START + timedelta(days=200)},
                   {"numbers": numbers[:25]}):
        new = reportdata.load_records(settings, **kwargs)
        old = reference_load_records(settings, **kwargs)
        assert new and new == old
        assert [repr(r) for r in new] == [repr(r) for r in old]
