"""Every failure a user can cause is one line that says what to do, with the README's exit
status; --debug / MAILPROC_DEBUG=1 shows the traceback (issue #9, item 3). No servers: a
local Maildir install (tests/appfixture.py); the PostgreSQL, IMAP and database-server cases
are in tests/integration/test_errors_servers.py."""

from __future__ import annotations

import errno
import importlib.util
import json
import mailbox
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from appfixture import EXAMPLE_CONFIG, REPO, LocalApp, write_config
from click.testing import CliRunner, Result

import mailproc.archive
import mailproc.store
from mailproc import resources
from mailproc.cli import Ctx, cli
from mailproc.config import load_settings
from mailproc.errors import ConfigError

EXAMPLES = REPO / "examples" / "inbox"
NO_DEBUG = {"MAILPROC_DEBUG": None, "MAILPROC_DATABASE_URL": None, "MAILPROC_CONFIG": None}


def invoke(app: LocalApp, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """Like LocalApp.run, but exceptions are caught the way a real run ends (LocalApp.run
    re-raises them), so an escaped exception is visible as result.exception."""
    return CliRunner().invoke(cli, ["--config", str(app.config), *args],
                              env=NO_DEBUG | (env or {}), obj=Ctx(None, clock=app.clock))


def one_error_line(result: Result) -> str:
    """The error: exactly one line on stderr, 'mailproc: error: …', and no traceback."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mailproc: error: "), lines[0]
    return lines[0]


def run_subprocess(args: list[str], *, cwd: Path, env: dict[str, str],
                   code: str = "") -> subprocess.CompletedProcess[str]:
    """mailproc in its own interpreter (`code` runs first), as a user runs it."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("MAILPROC_")} | env
    program = f"{code}\nfrom mailproc.cli import main\nmain()"
    return subprocess.run([sys.executable, "-c", program, *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


# ---- the database ---------------------------------------------------------------------------

def test_sqlite_in_a_missing_folder_from_the_environment_names_the_variable(tmp_path: Path):
    app = LocalApp(tmp_path)
    missing = tmp_path / "nowhere" / "deeper"
    result = invoke(app, "complaints", "list",
                    env={"MAILPROC_DATABASE_URL": f"sqlite:///{missing}/mailproc.db"})
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("mailproc: error: MAILPROC_DATABASE_URL (environment variable): ")
    assert str(missing) in line and "mailproc init" in line
    assert "database.url" not in line  # the file's value was not the one used
    assert not missing.exists()  # nothing was created on the way


def test_sqlite_in_a_missing_folder_from_the_file_names_the_file_and_key(tmp_path: Path):
    app = LocalApp(tmp_path)
    text = app.config.read_text()
    app.config.write_text(text.replace('url = "sqlite:///var/mailproc.db"',
                                       'url = "sqlite:///missing/mailproc.db"'))
    result = invoke(app, "complaints", "list")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"{app.config}: database.url: " in line
    assert str(tmp_path / "missing") in line and "mailproc init" in line
    # `mailproc init` does what the line says: it creates the folder, then the list works.
    assert invoke(app, "init").exit_code == 0
    assert invoke(app, "complaints", "list").exit_code == 0


@pytest.mark.parametrize("where", ["env", "file"])
def test_postgresql_without_its_driver_says_what_to_install(tmp_path: Path, where: str):
    config = write_config(tmp_path)
    url = "postgresql://mailproc@127.0.0.1:9/mailproc"  # never reached: the driver check first
    env = {}
    if where == "env":
        env["MAILPROC_DATABASE_URL"] = url
    else:
        config.write_text(config.read_text().replace('url = "sqlite:///var/mailproc.db"',
                                                     f'url = "{url}"'))
    hide_driver = "import sys; sys.modules['psycopg2'] = None"
    args = ["--config", str(config), "complaints", "list"]
    done = run_subprocess(args, cwd=tmp_path, env=env, code=hide_driver)
    assert done.returncode == 2, done.stderr  # a configuration error (README: Exit status)
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "pip install 'mailproc[postgres]'" in line
    if where == "env":
        assert line.startswith("mailproc: error: MAILPROC_DATABASE_URL (environment variable)")
    else:
        assert f"{config}: database.url" in line
    # --debug and MAILPROC_DEBUG=1 show where it came from.
    for extra_args, extra_env in ((["--debug"], {}), ([], {"MAILPROC_DEBUG": "1"})):
        debug = run_subprocess(extra_args + args, cwd=tmp_path, env=env | extra_env,
                               code=hide_driver)
        assert debug.returncode != 0
        assert "Traceback (most recent call last)" in debug.stderr
        assert "pip install 'mailproc[postgres]'" in debug.stderr


# ---- templates and mail texts -----------------------------------------------------------------

def exported_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    result = CliRunner().invoke(cli, ["templates", "export", str(folder)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder


def break_file(path: Path, how: str) -> None:
    path.unlink()
    if how == "garbage":
        path.write_bytes(b"\x00\xffthis is not a Word document\x13" * 200)
    elif how == "folder":
        path.mkdir()
    else:
        assert how == "missing"


BROKEN_FORM = {"garbage": "not a readable .docx template", "folder": "is a folder",
               "missing": "form template not found"}


@pytest.mark.parametrize("how", list(BROKEN_FORM))
def test_broken_ptpp_template_is_reported_by_templates_check(tmp_path: Path, how: str):
    templates = exported_templates(tmp_path)
    app = LocalApp(tmp_path, templates=templates)
    break_file(templates / "ptpp.docx", how)
    for args in (("templates", "check"), ("templates", "check", "ptpp")):
        result = invoke(app, *args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "unexpected" not in result.output
        assert f"ptpp: {templates / 'ptpp.docx'}: 1 problem(s)" in result.stdout
        [problem] = result.stderr.strip().splitlines()
        assert "ptpp.docx" in problem and BROKEN_FORM[how] in problem
    # The other templates are still checked and fine.
    assert "retur: " in invoke(app, "templates", "check").stdout


def body_of(msg: mailbox.MaildirMessage) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


@pytest.mark.parametrize("how", list(BROKEN_FORM))
def test_broken_ptpp_template_still_registers_and_tells_marketing(tmp_path: Path, how: str):
    templates = exported_templates(tmp_path)
    app = LocalApp(tmp_path, templates=templates)
    break_file(templates / "ptpp.docx", how)
    app.deliver((EXAMPLES / "01-botol-retak.eml").read_bytes())  # routed to Quality Control
    result = invoke(app, "poll", "--json")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    summary = json.loads(result.stdout)
    assert summary["outcomes"] == {"complaint": 1} and summary["errors"] == []
    [number] = summary["registered"]
    shown = json.loads(invoke(app, "complaints", "show", number, "--json").stdout)
    [failed] = [e for e in shown["events"] if e["kind"] == "ptpp_issue_failed"]
    assert "ptpp.docx" in json.dumps(failed)
    # Marketing administration is told, with the command that sends the form afterwards.
    [notice] = [m for m in app.sent() if "admin.marketing@contoh.co.id" in m["To"]
                and number in m["Subject"]]
    body = body_of(notice)
    assert "Formulir PTPP GAGAL dibuat" in body and BROKEN_FORM[how] in body
    assert f"mailproc ptpp assign {number}" in body
    # No PTPP went to the department; the mail left the inbox (processed, not quarantined).
    assert not [m for m in app.sent() if "qc@contoh.co.id" in (m["To"] or "")]
    assert not list((tmp_path / "var" / "inbox" / "new").iterdir())
    assert not list((tmp_path / "var" / "inbox" / ".Quarantine" / "cur").iterdir())
    # Sending the form by hand fails with one line naming the template, not a traceback.
    assign = invoke(app, "ptpp", "assign", number, "qc")
    assert assign.exit_code == 2
    assert "ptpp.docx" in one_error_line(assign)


def test_broken_return_form_template_still_registers_and_tells_marketing(tmp_path: Path):
    templates = exported_templates(tmp_path)
    app = LocalApp(tmp_path, templates=templates)
    break_file(templates / "retur.docx", "garbage")
    check = invoke(app, "templates", "check", "retur")
    assert check.exit_code == 1 and "retur.docx" in check.stderr
    assert "Traceback" not in check.output and "unexpected" not in check.output
    app.deliver((EXAMPLES / "01-botol-retak.eml").read_bytes())  # "… dapat diganti": a return
    summary = app.poll()
    assert summary["outcomes"] == {"complaint": 1} and summary["errors"] == []
    [number] = summary["registered"]
    shown = app.json("complaints", "show", number)
    assert "return_form_failed" in [e["kind"] for e in shown["events"]]
    # The PTPP still went to the department; marketing administration is told about the form.
    assert [m for m in app.sent() if "qc@contoh.co.id" in (m["To"] or "")]
    [notice] = [m for m in app.sent() if "admin.marketing@contoh.co.id" in m["To"]
                and number in m["Subject"]]
    body = body_of(notice)
    assert "Formulir klaim retur GAGAL dibuat" in body and "retur.docx" in body
    assert f"mailproc complaints send-return-form {number}" in body


def test_mail_text_that_is_not_utf8_is_one_line_per_problem(tmp_path: Path):
    templates = exported_templates(tmp_path)
    app = LocalApp(tmp_path, templates=templates)
    ack = templates / "email" / "ack_customer.txt"
    ack.write_bytes(b"Subject: Tanda terima\n\nKeluhan Anda \xff\xfe diterima.\n")
    result = invoke(app, "templates", "check", "email")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "unexpected" not in result.output
    [problem] = result.stderr.strip().splitlines()
    assert str(ack) in problem and "UTF-8" in problem
    # doctor reports the same on its mail-texts line.
    doctor = invoke(app, "doctor", "--json")
    rows = [r for r in json.loads(doctor.stdout) if r["check"] == "mail texts"]
    assert any(r["status"] == "fail" and "UTF-8" in r["message"] for r in rows)


# ---- a full disk ----------------------------------------------------------------------------

def inbox_files(root: Path) -> list[Path]:
    inbox = root / "var" / "inbox"
    return sorted(p for sub in ("new", "cur") for p in (inbox / sub).iterdir())


def test_disk_full_on_the_archive_stops_the_poll_and_loses_nothing(tmp_path: Path,
                                                                 monkeypatch):
    app = LocalApp(tmp_path)
    raw = (EXAMPLES / "01-botol-retak.eml").read_bytes()
    app.deliver(raw)
    app.deliver((EXAMPLES / "03-tagihan.eml").read_bytes())
    writes: list[Path] = []

    def full(self, rel, content, **_):
        writes.append(rel)
        path = self.root / rel
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(mailproc.archive.Archive, "_write", full)
    result = invoke(app, "poll")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "disk is full" in line and "df -h" in line and str(tmp_path / "archive") in line
    assert "mailbox" in line  # … unprocessed mail stays in the mailbox
    assert len(writes) == 1  # stopped at the first mail: the second one was not tried
    # Nothing registered, nothing quarantined, nothing queued; both mails still in the inbox.
    assert app.json("complaints", "list") == []
    assert app.json("outbox", "list", "--all") == []
    assert len(inbox_files(tmp_path)) == 2
    assert not list((tmp_path / "var" / "inbox" / ".Quarantine" / "cur").iterdir())
    assert not list((tmp_path / "var" / "inbox" / ".Processed" / "cur").iterdir())
    # --debug shows the traceback of the disk error.
    debug = invoke(app, "--debug", "poll")
    assert debug.exit_code == 1 and debug.exception is not None
    assert isinstance(debug.exception.__cause__, OSError)
    assert debug.exception.__cause__.errno == errno.ENOSPC
    # Space again: the next poll registers each mail exactly once.
    monkeypatch.undo()
    first = app.poll()
    assert first["outcomes"] == {"complaint": 2} and first["errors"] == []
    assert app.poll()["fetched"] == 0
    assert len(app.json("complaints", "list")) == 2
    assert inbox_files(tmp_path) == []


def test_disk_full_after_the_first_mail_keeps_what_was_done(tmp_path: Path, monkeypatch):
    app = LocalApp(tmp_path)
    app.deliver((EXAMPLES / "01-botol-retak.eml").read_bytes())
    assert app.poll()["outcomes"] == {"complaint": 1}
    app.deliver((EXAMPLES / "03-tagihan.eml").read_bytes())
    real = mailproc.archive.Archive._write

    def full(self, rel, content, **_):
        raise OSError(errno.EDQUOT, "Disk quota exceeded", str(self.root / rel))

    monkeypatch.setattr(mailproc.archive.Archive, "_write", full)
    result = invoke(app, "poll")
    assert result.exit_code == 1
    assert "quota" in one_error_line(result)
    assert len(app.json("complaints", "list")) == 1
    monkeypatch.setattr(mailproc.archive.Archive, "_write", real)
    assert app.poll()["outcomes"] == {"complaint": 1}
    assert len(app.json("complaints", "list")) == 2


def long_complaint(mid: str) -> bytes:
    """A complaint whose description alone needs new database pages."""
    body = "Botol retak pada bagian leher, batch LOT-2611-07. " * 800
    return (f"From: Budi <budi@pelanggan.example>\r\nTo: keluhan@contoh.co.id\r\n"
            f"Subject: Botol retak\r\nMessage-ID: <{mid}>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def test_database_disk_full_stops_the_poll_and_loses_nothing(tmp_path: Path, monkeypatch):
    """SQLite's own "database or disk is full" (SQLITE_FULL), made real with max_page_count."""
    app = LocalApp(tmp_path)
    real_open = mailproc.store.open_database

    def full_open(url, **kwargs):
        database = real_open(url, **kwargs)
        pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
        database.execute_sql(f"PRAGMA max_page_count = {pages}")
        return database

    app.deliver(long_complaint("penuh-1@pelanggan.example"))
    monkeypatch.setattr(mailproc.store, "open_database", full_open)
    result = invoke(app, "poll")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "the database's disk is full" in line and "database or disk is full" in line
    assert "df -h" in line and "unexpected" not in line
    # A command that only writes the database says the same.
    added = invoke(app, "complaints", "add", "--channel", "telepon", "--customer", "Budi",
                   "--description", "Barang rusak. " * 2000)
    assert added.exit_code == 1
    assert "the database's disk is full" in one_error_line(added)
    monkeypatch.undo()
    mailproc.store.db.close()  # the next command opens it again, without the limit
    assert app.json("complaints", "list") == []
    assert len(inbox_files(tmp_path)) == 1
    assert not list((tmp_path / "var" / "inbox" / ".Quarantine" / "cur").iterdir())
    assert app.poll()["outcomes"] == {"complaint": 1}
    assert app.poll()["fetched"] == 0
    assert len(app.json("complaints", "list")) == 1


# ---- configuration keys ---------------------------------------------------------------------

def test_misspelt_key_and_section_exit_2_with_the_closest_known_name(tmp_path: Path):
    app = LocalApp(tmp_path)
    text = app.config.read_text()
    assert "poll_minutes = 5" in text and "[database]\n" in text
    app.config.write_text(text.replace("poll_minutes = 5", "pol_minutes = 5")
                          .replace("[database]\n", "[databse]\n"))
    result = invoke(app, "complaints", "list")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(app.config) in line
    assert "unknown key `schedule.pol_minutes`; did you mean `schedule.poll_minutes`?" in line
    assert "unknown section `databse`; did you mean `database`?" in line


def test_unknown_key_inside_a_department_and_a_form(tmp_path: Path):
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('aliases = ["qc", "mutu", "quality"]',
                                   'alias = ["qc", "mutu", "quality"]')
                      .replace('revision_date = "18/09/2023"', 'revison_date = "18/09/2023"', 1))
    with pytest.raises(ConfigError) as info:
        load_settings(config, {})
    message = str(info.value)
    assert "`departments.qc.alias`; did you mean `departments.qc.aliases`?" in message
    assert "`documents.ptpp.revison_date`; did you mean `documents.ptpp.revision_date`?" \
        in message


def uncomment_everything(text: str) -> str:
    """The example with every commented-out `key = value` line switched on (the day_hours
    example is an alternative to a key that is there already: set below)."""
    return re.sub(r"^# ?((?:\[oauth\])|(?:(?!day_hours)[a-z_]+ = .+))$", r"\1", text,
                  flags=re.M)


def test_the_example_and_the_test_configs_have_no_unknown_keys(tmp_path: Path):
    example = write_config(tmp_path / "a")
    assert load_settings(example, {}).unknown_keys == ()
    # Everything optional switched on, an IMAP/SMTP set-up, [oauth] filled in.
    text = uncomment_everything(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert "\n[oauth]\n" in text and "\ntoken_file = " in text and "\ntemplates = " in text
    text = (text.replace('templates = "templates"', f'templates = "{resources.templates_dir()}"')
            .replace('url = "maildir:var/inbox"',
                     'url = "imaps://keluhan%40contoh.co.id@imap.contoh.co.id/INBOX"')
            .replace('url = "maildir:var/sent"',
                     'url = "smtps://keluhan%40contoh.co.id@smtp.contoh.co.id:465"')
            .replace('auth = "password"', 'auth = "oauth2"')
            .replace('\nprovider = "microsoft"\n',
                     '\nprovider = "microsoft"\nclient_secret = "not-a-real-secret"\n')
            .replace("day_hours = {}", 'day_hours = { sat = "08:00-12:00" }')
            .replace('company_days_off = []', 'company_days_off = ["2026-12-24"]'))
    full = tmp_path / "b" / "config" / "mailproc.toml"
    full.parent.mkdir(parents=True)
    full.write_text(text, encoding="utf-8")
    settings = load_settings(full, {})
    assert settings.unknown_keys == ()
    assert settings.mailbox.kind == "imap" and settings.oauth.provider == "microsoft"
    assert settings.oauth.scopes and settings.oauth.token_url
    # And through the CLI: no unknown-key error.
    result = CliRunner().invoke(cli, ["--config", str(full), "templates", "check", "email"],
                                env=NO_DEBUG)
    assert result.exit_code == 0, result.output
    # The configuration the integration tests write (tests/integration/conftest.py).
    spec = importlib.util.spec_from_file_location(
        "integration_conftest_for_errors", REPO / "tests" / "integration" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    fake_dovecot = SimpleNamespace(imap_port=1143, imaps_port=1993, password="x")
    env = module.MailEnv(dovecot=fake_dovecot, relay=SimpleNamespace(port=1025),
                         root=tmp_path / "c", tok="abc")
    for kwargs in ({}, {"tls": True, "ca_file": "/tmp/ca.pem", "mode": "keep"}):
        assert load_settings(env.write_config(**kwargs), {}).unknown_keys == ()


# ---- --debug, unexpected errors, exit status -----------------------------------------------

def boom() -> None:
    raise RuntimeError("the schema check blew up\non two lines")


def test_unexpected_error_is_one_line_pointing_at_debug(tmp_path: Path, monkeypatch):
    app = LocalApp(tmp_path)
    monkeypatch.setattr(mailproc.store, "check_schema", boom)
    result = invoke(app, "complaints", "list")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "unexpected RuntimeError: the schema check blew up on two lines" in line
    assert "--debug" in line


@pytest.mark.parametrize("args,env", [(["--debug"], {}), ([], {"MAILPROC_DEBUG": "1"}),
                                      ([], {"MAILPROC_DEBUG": "yes"})])
def test_debug_lets_the_exception_through(tmp_path: Path, monkeypatch, args, env):
    app = LocalApp(tmp_path)
    monkeypatch.setattr(mailproc.store, "check_schema", boom)
    result = invoke(app, *args, "complaints", "list", env=env)
    assert isinstance(result.exception, RuntimeError)
    assert "mailproc: error:" not in result.output
    # Errors mailproc raises on purpose too (here: not found).
    monkeypatch.undo()
    result = invoke(app, *args, "complaints", "show", "999/PTPP/MKT/XI/2026", env=env)
    assert type(result.exception).__name__ == "NotFound"


def test_debug_in_a_real_process_prints_the_traceback(tmp_path: Path):
    config = write_config(tmp_path)
    args = ["--config", str(config), "complaints", "list"]
    env = {"MAILPROC_DATABASE_URL": f"sqlite:///{tmp_path}/gone/x.db"}
    plain = run_subprocess(args, cwd=tmp_path, env=env)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1
    debug = run_subprocess(args, cwd=tmp_path, env=env | {"MAILPROC_DEBUG": "1"})
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and "StoreError" in debug.stderr


def readme_exit_status() -> dict[int, str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"Exit status: (.+?)\.\n", readme, flags=re.S)
    assert match, "README: the 'Exit status:' sentence is gone"
    sentence = " ".join(match.group(1).split())
    return {int(m.group(1)): m.group(2) for m in
            re.finditer(r"(\d) ([^,(]+?)(?: \([^)]*\))?(?:,|$)", sentence)}


def test_exit_status_is_what_the_readme_says(tmp_path: Path):
    codes = readme_exit_status()
    assert codes[0] == "ok" and codes[1] == "error"
    # Configuration errors and click's usage errors share 2: the README must say both.
    assert "configuration" in codes[2] and "usage" in codes[2] and codes[3] == "not found"
    app = LocalApp(tmp_path)
    # 2: configuration errors (a bad value, an unknown key, no file) …
    text = app.config.read_text()
    app.config.write_text(text.replace("poll_minutes = 5", "poll_minutes = -1"))
    assert invoke(app, "complaints", "list").exit_code == 2
    app.config.write_text(text.replace("poll_minutes = 5", "pol_minutes = 5"))
    assert invoke(app, "complaints", "list").exit_code == 2
    app.config.write_text(text)
    missing = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.toml"), "poll"],
                                 env=NO_DEBUG)
    assert missing.exit_code == 2 and "mailproc init --config" in missing.stderr
    # … and usage errors, click's own (an unknown command, option or choice, a missing
    # argument).
    for args in (["complaints", "lst"], ["poll", "--jsn"], ["complaints", "show"],
                 ["templates", "check", "word"], ["complaints", "list", "--status"]):
        result = invoke(app, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output and "Error: " in result.stderr
    # 3: not found.
    result = invoke(app, "complaints", "show", "999/PTPP/MKT/XI/2026")
    assert result.exit_code == 3 and "999/PTPP/MKT/XI/2026" in one_error_line(result)
    result = invoke(app, "outbox", "retry", "4242")
    assert result.exit_code == 3 and "4242" in one_error_line(result)
    # 1: an error that is none of these.
    result = invoke(app, "complaints", "list", env={
        "MAILPROC_DATABASE_URL": f"sqlite:///{tmp_path}/gone/x.db"})
    assert result.exit_code == 1


# ---- outgoing mail --------------------------------------------------------------------------

def test_smtp_server_down_names_the_variable_the_url_came_from(tmp_path: Path):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = LocalApp(tmp_path)
    app.deliver((EXAMPLES / "01-botol-retak.eml").read_bytes())
    env = {"MAILPROC_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    result = invoke(app, "poll", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deferred"] >= 1
    listed = json.loads(invoke(app, "outbox", "list", "--json", env=env).stdout)
    errors = {row["last_error"] for row in listed}
    assert listed and all("MAILPROC_SMTP_URL" in e for e in errors), errors
