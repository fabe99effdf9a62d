"""An installed mailproc, per test: its own config, SQLite database, archive, and its own
mailbox users on the session Dovecot, so tests never see each other's mail."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pgserver import PostgresServer, start_for_tests
from servers import Dovecot, SmtpRelay
from testclock import TestClock

from mailproc.cli import Ctx, cli

REPO = Path(__file__).resolve().parents[2]
ROUTING = (REPO / "tests" / "fixtures" / "routing.toml").read_text(encoding="utf-8")
SQLITE_URL = "sqlite:///var/mailproc.db"


@dataclass
class MailEnv:
    dovecot: Dovecot
    relay: SmtpRelay
    root: Path
    tok: str
    extra: dict[str, Any] = field(default_factory=dict)
    clock: TestClock = field(default_factory=TestClock)
    # The config's database.url: a SQLite file under root (relative to it), or a database
    # on the suite's PostgreSQL (--database postgresql).
    database_url: str = SQLITE_URL
    # LibreOffice takes seconds a document: on only where a test asks for PDF copies.
    pdf_copies: bool = False

    @property
    def database(self) -> str:
        """The database URL for opening it from the test process."""
        if self.database_url == SQLITE_URL:
            return f"sqlite:///{self.root / 'var' / 'mailproc.db'}"
        return self.database_url

    @property
    def on_sqlite(self) -> bool:
        return self.database_url == SQLITE_URL

    def addr(self, role: str) -> str:
        return f"{role}-{self.tok}@contoh.co.id"

    @property
    def inbox(self) -> str:
        return self.addr("keluhan")

    @property
    def config(self) -> Path:
        return self.root / "config" / "mailproc.toml"

    def write_config(self, *, mode: str = "move", folder: str = "INBOX", tls: bool = False,
                     ca_file: str | None = None, extra: str = "") -> Path:
        d = self.dovecot
        if tls:
            mailbox = f"imaps://{self.inbox.replace('@', '%40')}@127.0.0.1:{d.imaps_port}/{folder}"
        else:
            mailbox = f"imap://{self.inbox.replace('@', '%40')}@127.0.0.1:{d.imap_port}/{folder}"
        ca_line = f'ca_file = "{ca_file}"' if ca_file else ""
        deps = "\n".join(
            f'[departments.{k}]\nname = "{name}"\naddresses = ["{self.addr(k)}"]\n'
            for k, name in (("qc", "Quality Control"), ("produksi", "Produksi"),
                            ("gudang", "Gudang"), ("logistik", "Logistik"),
                            ("keuangan", "Keuangan")))
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(f"""
[paths]
root = ".."
templates = "{REPO / 'doc_templates'}"

[company]
name = "PT Contoh Industri"
domains = ["contoh.co.id"]
sender_address = "{self.inbox}"
sender_name = "Layanan Keluhan PT Contoh Industri"
signature = "Administrasi Marketing\\nPT Contoh Industri"

[mailbox]
url = "{mailbox}"
mode = "{mode}"
timeout_seconds = 20
{ca_line}

[smtp]
url = "smtp://127.0.0.1:{self.relay.port}"
timeout_seconds = 10

[database]
url = "{self.database_url}"

[people]
marketing_admin = ["{self.addr('admin')}"]
sales_marketing = ["{self.addr('sales')}"]
operations_manager = ["{self.addr('ops')}"]

{deps}

[outbox]
backoff_seconds = 1
backoff_max_seconds = 2

[documents]
pdf_copies = {str(self.pdf_copies).lower()}

{extra}

{ROUTING}
""", encoding="utf-8")
        return self.config

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        env = {"MAILPROC_MAILBOX_PASSWORD": self.dovecot.password} | (env or {})
        return CliRunner().invoke(cli, ["--config", str(self.config), *args], env=env,
                                  catch_exceptions=False, obj=Ctx(None, clock=self.clock))

    def poll(self) -> dict[str, Any]:
        result = self.run("poll", "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def sample(self, name: str) -> bytes:
        """A sample from examples/inbox with this test's own customer domains, so customer
        mailboxes on the shared Dovecot are per test."""
        raw = (REPO / "examples" / "inbox" / name).read_bytes()
        return raw.replace(b"example.com", f"{self.tok}.example.com".encode())

    def customer(self, local: str, domain: str) -> str:
        return f"{local}@{domain.replace('example.com', self.tok + '.example.com')}"

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        if folder == "INBOX":
            self.dovecot.deliver(self.inbox, raw)
        else:
            self.dovecot.append(self.inbox, raw, folder=folder)

    def received(self, role_or_address: str) -> list[EmailMessage]:
        address = role_or_address if "@" in role_or_address else self.addr(role_or_address)
        return [email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
                for raw in self.dovecot.fetch_raw(address)]

    def show(self, number: str) -> dict[str, Any]:
        result = self.run("complaints", "show", number, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture(scope="session")
def suite_postgres(request: pytest.FixtureRequest) -> PostgresServer:
    """The PostgreSQL cluster of `--database postgresql` (started once, stopped at the end)."""
    return start_for_tests(request)


@pytest.fixture
def mailenv_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """database.url for `mailenv`: the SQLite file, or a fresh database on the suite's
    PostgreSQL, dropped after the test (connections of finished processes included)."""
    if request.config.getoption("--database") != "postgresql":
        yield SQLITE_URL
        return
    server: PostgresServer = request.getfixturevalue("suite_postgres")
    url = server.create_database()
    try:
        yield url
    finally:
        from mailproc import store

        store.db.close()
        server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def mailenv(tmp_path: Path, dovecot: Dovecot, smtp_relay: SmtpRelay,
            mailenv_database: str) -> MailEnv:
    env = MailEnv(dovecot=dovecot, relay=smtp_relay, root=tmp_path,
                  tok=uuid.uuid4().hex[:8], database_url=mailenv_database)
    env.write_config()
    result = env.run("init")
    assert result.exit_code == 0, result.output
    return env
