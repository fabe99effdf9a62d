"""One line that says what to do, against real servers (issue #9, item 3): PostgreSQL that
refuses the connection, the password, the user or the database; an IMAP server that refuses
the login, has no such folder, or will not create the Processed / Quarantine folder. In every
case the mail stays in the mailbox. The cases without servers are in tests/unit/test_errors.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from appfixture import LocalApp
from click.testing import Result
from conftest import MailEnv
from pgserver import PostgresServer, start_for_tests
from servers import free_port

from mailproc import store

PG_USER, PG_PASSWORD = "mp_pw", "right-secret-8d1f"


def one_error_line(result: Result) -> str:
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mailproc: error: "), lines[0]
    assert "[b'" not in lines[0] and '[b"' not in lines[0]  # no raw IMAP bytes
    return lines[0]


# ---- PostgreSQL -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres(request: pytest.FixtureRequest) -> PostgresServer:
    """A private cluster (trust on loopback) in which the role mp_pw must give its password
    (scram-sha-256): a pg_hba.conf line for that role ahead of the trust lines."""
    import psycopg2

    server = start_for_tests(request)
    server.psql(f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{PG_PASSWORD}'")
    server.psql(f"CREATE DATABASE {PG_USER}_db OWNER {PG_USER}")
    hba = server.datadir / "pg_hba.conf"
    hba.write_text(f"host all {PG_USER} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    server.psql("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while True:  # the reload is asynchronous: wait until the password is asked for
        try:
            psycopg2.connect(host=server.host, port=server.port, user=PG_USER,
                             dbname=f"{PG_USER}_db").close()
        except psycopg2.OperationalError:
            break
        assert time.monotonic() < deadline, "pg_hba.conf reload not seen"
        time.sleep(0.1)
    return server


@pytest.fixture
def app(tmp_path: Path, postgres: PostgresServer) -> Iterator[LocalApp]:
    local = LocalApp(tmp_path)  # SQLite; the tests point MAILPROC_DATABASE_URL elsewhere
    try:
        yield local
    finally:
        store.db.close()


def pg(postgres: PostgresServer, user: str, dbname: str, password: str = "",
       port: int | None = None) -> str:
    secret = f":{password}" if password else ""
    return f"postgresql://{user}{secret}@{postgres.host}:{port or postgres.port}/{dbname}"


def run_env(app: LocalApp, url: str, *args: str) -> Result:
    return app.run(*(args or ("complaints", "list")), env={"MAILPROC_DATABASE_URL": url})


def test_right_password_works(app: LocalApp, postgres: PostgresServer):
    url = pg(postgres, PG_USER, f"{PG_USER}_db", PG_PASSWORD)
    assert run_env(app, url, "init").exit_code == 0
    result = run_env(app, url, "complaints", "list", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


@pytest.mark.parametrize("password", ["wrong-secret-77", ""])
def test_wrong_or_no_password(app: LocalApp, postgres: PostgresServer, password: str):
    result = run_env(app, pg(postgres, PG_USER, f"{PG_USER}_db", password))
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("mailproc: error: MAILPROC_DATABASE_URL (environment variable): ")
    assert f"{postgres.host}:{postgres.port}" in line and PG_USER in line
    assert "check the password" in line
    assert "wrong-secret-77" not in result.output  # never echoed


def test_unknown_database(app: LocalApp, postgres: PostgresServer):
    result = run_env(app, pg(postgres, "postgres", "no_such_db"))
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "MAILPROC_DATABASE_URL" in line
    assert "'no_such_db' does not exist" in line and "createdb -O postgres no_such_db" in line


def test_unknown_database_from_the_file_names_the_file(app: LocalApp, postgres: PostgresServer):
    text = app.config.read_text()
    app.config.write_text(text.replace('url = "sqlite:///var/mailproc.db"',
                                       f'url = "{pg(postgres, "postgres", "no_such_db")}"'))
    result = app.run("complaints", "list")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"{app.config}: database.url: " in line and "'no_such_db' does not exist" in line


def test_unknown_user(app: LocalApp, postgres: PostgresServer):
    result = run_env(app, pg(postgres, "nobody_here", postgres.dbname))
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "no user 'nobody_here'" in line and "createuser" in line


def test_server_refuses_the_connection(app: LocalApp, postgres: PostgresServer):
    port = free_port()  # nothing listens there
    result = run_env(app, pg(postgres, "postgres", postgres.dbname, port=port))
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"cannot reach PostgreSQL at {postgres.host}:{port} (connection refused)" in line
    assert "is the server running" in line


# ---- IMAP -----------------------------------------------------------------------------------

def mail_untouched(env: MailEnv, raw_count: int = 1) -> None:
    """The mail is still in INBOX, nothing was registered or queued."""
    assert len(env.dovecot.fetch_raw(env.inbox)) == raw_count
    assert json.loads(env.run("complaints", "list", "--json").stdout) == []
    assert json.loads(env.run("outbox", "list", "--all", "--json").stdout) == []


def test_imap_wrong_password(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    result = mailenv.run("poll", env={"MAILPROC_MAILBOX_PASSWORD": "wrong-secret-42"})
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"IMAP login to 127.0.0.1:{mailenv.dovecot.imap_port}" in line
    assert mailenv.inbox in line and "Authentication failed" in line
    assert "MAILPROC_MAILBOX_PASSWORD" in line
    assert "wrong-secret-42" not in result.output
    mail_untouched(mailenv)
    assert mailenv.dovecot.folders(mailenv.inbox) == ["INBOX"]
    # With the right password the same mail is registered once.
    assert mailenv.poll()["outcomes"] == {"complaint": 1}


def test_imap_folder_that_does_not_exist(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    mailenv.write_config(folder="Nope")
    result = mailenv.run("poll")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "cannot open the IMAP folder 'Nope'" in line
    assert "doesn't exist" in line  # what Dovecot said, as text
    assert "end of mailbox.url" in line and "folders there: INBOX" in line
    mail_untouched(mailenv)
    # Nothing was created while failing (Processed / Quarantine come after the folder).
    assert mailenv.dovecot.folders(mailenv.inbox) == ["INBOX"]
    mailenv.write_config(folder="INBOX")
    assert mailenv.poll()["outcomes"] == {"complaint": 1}


@pytest.mark.parametrize("key,name,server_says", [
    ("processed_folder", "Sudah.Diproses", "Character not allowed"),
    ("quarantine_folder", "~Karantina", "Begins with '~'"),
])
def test_imap_processed_or_quarantine_folder_that_cannot_be_created(
        mailenv: MailEnv, key: str, name: str, server_says: str):
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    text = mailenv.config.read_text()
    mailenv.config.write_text(text.replace("[mailbox]\n", f'[mailbox]\n{key} = "{name}"\n', 1))
    result = mailenv.run("poll")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"cannot create the IMAP folder '{name}' (mailbox.{key})" in line
    assert server_says in line and f"choose another name in mailbox.{key}" in line
    assert "unexpected" not in line
    mail_untouched(mailenv)


def test_imap_server_not_listening(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    port = free_port()
    user = mailenv.inbox.replace("@", "%40")
    result = mailenv.run("poll", env={
        "MAILPROC_MAILBOX_URL": f"imap://{user}@127.0.0.1:{port}/INBOX"})
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"cannot connect to IMAP server 127.0.0.1:{port}" in line
    assert "check MAILPROC_MAILBOX_URL" in line  # where the URL came from
    mail_untouched(mailenv)
