"""Fixtures for the real mail servers (tests/servers.py). Other fixtures live elsewhere."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest's default import mode puts tests/ on sys.path, --import-mode=importlib does not;
# tests import the helpers as `servers` either way.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from servers import Dovecot, SmtpRelay, find_dovecot  # noqa: E402

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database", choices=("sqlite", "postgresql"),
        default=os.environ.get("MAILPROC_TEST_DATABASE", "sqlite"),
        help="the database of the end-to-end tests (tests/integration, the `mailenv` "
             "fixture): SQLite files (default) or a fresh database per test on a private "
             "PostgreSQL cluster the tests start; also MAILPROC_TEST_DATABASE")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything under tests/integration is an integration test, marked or not, so
    # `-m "not integration"` reliably skips the slow, server-backed tests.
    on_postgresql = config.getoption("--database") == "postgresql"
    for item in items:
        if INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)
        marker = item.get_closest_marker("sqlite_only")
        if on_postgresql and marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {marker.args[0]}"))


@pytest.fixture(scope="session")
def dovecot(request: pytest.FixtureRequest) -> Dovecot:
    """One Dovecot for the whole session; isolate tests with unique user names
    (servers.unique_address())."""
    if find_dovecot() is None:
        # Fail, not skip: a skip would hide a missing install step in CI.
        pytest.fail("dovecot is not installed: run .ci/install", pytrace=False)
    # A folder of its own, not under pytest's basetemp: another pytest session starting on
    # the same machine resets /tmp/pytest-of-<user> to 0700, which locks Dovecot's
    # unprivileged processes out of their mail in the middle of a run.
    workdir = Path(tempfile.mkdtemp(prefix="mailproc-dovecot-"))
    server = Dovecot(workdir)
    request.addfinalizer(lambda: shutil.rmtree(workdir, ignore_errors=True))
    request.addfinalizer(server.stop)  # registered last, runs first; even if start() fails
    server.start()
    return server


@pytest.fixture
def smtp_relay(dovecot: Dovecot) -> Iterator[SmtpRelay]:
    """A fresh SMTP server delivering into the session Dovecot over LMTP."""
    relay = SmtpRelay(dovecot)
    try:
        relay.start()
        yield relay
    finally:
        relay.stop()
