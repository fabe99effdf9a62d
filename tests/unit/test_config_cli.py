"""Configuration errors, environment overrides, and the CLI's contract."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from appfixture import LocalApp, write_config
from click.testing import CliRunner

from mailproc.cli import cli
from mailproc.config import load_settings
from mailproc.errors import ConfigError


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_missing_file_exits_2_and_says_what_to_do(tmp_path: Path):
    result = run("--config", str(tmp_path / "nope.toml"), "poll")
    assert result.exit_code == 2
    assert "nope.toml" in result.output and "mailproc init --config" in result.output


@pytest.mark.parametrize("old,new,key", [
    ('name = "PT Contoh Industri"', "", "company.name"),
    ('mode = "move"', 'mode = "sometimes"', "mailbox.mode"),
    ('url = "maildir:var/inbox"', 'url = "pop3://host"', "mailbox.url"),
    ('url = "sqlite:///var/mailproc.db"', 'url = "mysql://x"', "database.url"),
    ('marketing_admin = ["admin.marketing@contoh.co.id"]', 'marketing_admin = ["admin"]',
     "people.marketing_admin"),
    ('poll_minutes = 5', 'poll_minutes = -1', "schedule.poll_minutes"),
    ('pattern = "{seq:03d}/PTPP/MKT/{month_roman}/{year}"', 'pattern = "PTPP-{month}"',
     "numbering.pattern"),
    ('department = "qc"', 'department = "laboratorium"', "routing.categories"),
])
def test_bad_setting_names_key_and_file(tmp_path: Path, old: str, new: str, key: str):
    config = write_config(tmp_path)
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    result = run("--config", str(config), "init")
    assert result.exit_code == 2, result.output
    assert key in result.output and str(config) in result.output
    assert "Traceback" not in result.output


def test_environment_overrides_and_secrets_stay_out_of_repr(tmp_path: Path):
    config = write_config(tmp_path)
    env = {
        "MAILPROC_MAILBOX_URL": "imaps://keluhan%40contoh.co.id@imap.example.com/INBOX",
        "MAILPROC_MAILBOX_PASSWORD": "s3cret-imap",
        "MAILPROC_SMTP_URL": "smtp://relay.example.com:587?starttls=1",
        "MAILPROC_SMTP_PASSWORD": "s3cret-smtp",
        "MAILPROC_DATABASE_URL": "postgresql://mp@db.example.com/mailproc",
    }
    s = load_settings(config, env)
    assert (s.mailbox.kind, s.mailbox.host, s.mailbox.port, s.mailbox.user, s.mailbox.security) \
        == ("imap", "imap.example.com", 993, "keluhan@contoh.co.id", "ssl")
    assert s.mailbox.password == "s3cret-imap"
    assert (s.smtp.host, s.smtp.port, s.smtp.security) == ("relay.example.com", 587, "starttls")
    assert s.database_url == "postgresql://mp@db.example.com/mailproc"
    assert "s3cret" not in repr(s)


def test_relative_paths_resolve_against_paths_root(tmp_path: Path):
    s = load_settings(write_config(tmp_path), {})
    assert s.mailbox.path == tmp_path / "var" / "inbox"
    assert s.database_url == f"sqlite:///{tmp_path / 'var' / 'mailproc.db'}"
    assert s.archive_dir == tmp_path / "archive"


def test_unknown_routing_key_is_a_config_error(tmp_path: Path):
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("min_stem_length = 4", "min_stem_lenght = 4"))
    with pytest.raises(ConfigError, match="routing"):
        load_settings(config, {})


def test_init_is_idempotent(tmp_path: Path):
    app = LocalApp(tmp_path)
    assert app.run("init").exit_code == 0
    assert app.run("init").exit_code == 0


def test_json_outputs_are_stable(tmp_path: Path):
    app = LocalApp(tmp_path)
    assert app.json("complaints", "list") == []
    assert app.json("outbox", "list") == []
    app.deliver(b"From: Budi <budi@example.com>\r\nSubject: barang rusak\r\n"
                b"Message-ID: <a1@example.com>\r\n\r\nBarang rusak, batch LOT-1.\r\n")
    summary = app.poll()
    assert set(summary) >= {"fetched", "outcomes", "registered", "errors", "sent", "deferred",
                            "failed", "seconds"}
    [row] = app.json("complaints", "list")
    assert set(row) >= {"number", "status", "received_at", "customer", "category", "department",
                        "subject", "first_response_at"}
    shown = app.json("complaints", "show", row["number"])
    assert set(shown) >= {"messages", "attachments", "events", "description", "fields"}
    sent = app.json("outbox", "list", "--all")
    assert {r["kind"] for r in sent} == {"ack", "notice_new", "ptpp_issue"}
    assert all(r["status"] == "sent" for r in sent)
    triage_only = app.json("complaints", "list", "--status", "triage")
    assert triage_only == []


def test_show_unknown_number_exits_3(tmp_path: Path):
    app = LocalApp(tmp_path)
    result = app.run("complaints", "show", "999/PTPP/MKT/I/2020")
    assert result.exit_code == 3 and "complaints list" in result.output


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


@pytest.mark.parametrize("name,cmd", list(_commands(cli)))
def test_every_command_is_documented_with_an_example(name, cmd):
    assert cmd.help and "Example: mailproc" in cmd.help, name
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"mailproc {name}" in readme, f"`mailproc {name}` is not in the README"


def test_outbox_retry_requeues_and_is_audited(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver(b"From: a@example.com\r\nSubject: rusak\r\nMessage-ID: <r1@example.com>\r\n"
                b"\r\nrusak\r\n")
    app.poll()
    first = app.json("outbox", "list", "--all")[0]
    result = app.run("outbox", "retry", str(first["id"]), "--by", "rina")
    assert result.exit_code == 0
    assert app.json("outbox", "list")[0]["status"] == "queued"
    shown = app.json("complaints", "show", first["complaint"])
    assert shown["events"][-1]["kind"] == "mail_requeued"
    assert shown["events"][-1]["actor"] == "rina"
    assert json.loads(app.run("poll", "--json").stdout)["sent"] == 1
