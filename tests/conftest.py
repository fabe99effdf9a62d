"""Fixtures for the real mail servers (tests/servers.py). Other fixtures live elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest's default import mode puts tests/ on sys.path, --import-mode=importlib does not;
# tests import the helpers as `servers` either way.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from servers import Dovecot, SmtpRelay, find_dovecot  # noqa: E402

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration is an integration test, marked or not, so
    # `-m "not integration"` reliably skips the slow, server-backed tests.
    for item in items:
        if INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Dovecot:
    """One Dovecot for the whole session; isolate tests with unique user names
    (servers.unique_address())."""
    if find_dovecot() is None:
        # Fail, not skip: a skip would hide a missing install step in CI.
        pytest.fail("dovecot is not installed: run .ci/install", pytrace=False)
    server = Dovecot(tmp_path_factory.mktemp("dovecot"))
    request.addfinalizer(server.stop)  # registered first: runs even if start() half-fails
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
