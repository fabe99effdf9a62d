"""Logs as JSON lines (`[logging] format = "json"`, MAILPROC_LOG_FORMAT) with no secrets."""

from __future__ import annotations

import json
import logging
import mailbox
import os
import subprocess
import sys
from pathlib import Path

import pytest
from appfixture import REPO, write_config

from mailproc import logsetup
from mailproc.config import load_settings
from mailproc.errors import ConfigError


def record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord("mailproc.intake.services", logging.WARNING, __file__, 1, msg, args,
                            exc_info)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_line_has_the_fields_and_the_extras():
    line = logsetup.JsonFormatter().format(
        record("mail %s quarantined", "<a@b>", number="001/PTPP/MKT/XI/2026", uid=17,
               folders=["INBOX", "Quarantine"], exc=True))
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "mailproc.intake.services"
    assert data["message"] == "mail <a@b> quarantined"
    assert data["time"].endswith("+00:00")
    assert (data["number"], data["uid"], data["folders"]) == \
        ("001/PTPP/MKT/XI/2026", 17, ["INBOX", "Quarantine"])
    assert "RuntimeError: boom" in data["exception"]


def test_secrets_are_masked_in_both_formats():
    rec = record("connecting to %s", "postgresql://mp:hunter2@db.example.com/mailproc",
                 smtp_password="hunter2", api_token="hunter2", mailbox="imaps://u@host/INBOX")
    line = logsetup.JsonFormatter().format(rec)
    assert "hunter2" not in line
    data = json.loads(line)
    assert data["message"] == "connecting to postgresql://mp:***@db.example.com/mailproc"
    assert data["smtp_password"] == data["api_token"] == "***"
    assert data["mailbox"] == "imaps://u@host/INBOX"
    assert "hunter2" not in logsetup.TextFormatter().format(rec)


def test_format_setting_and_environment_override(tmp_path: Path):
    config = write_config(tmp_path)
    assert load_settings(config, {}).log_format == "text"
    config.write_text(config.read_text().replace('format = "text"', 'format = "json"'))
    assert load_settings(config, {}).log_format == "json"
    assert load_settings(config, {"MAILPROC_LOG_FORMAT": "text"}).log_format == "text"
    with pytest.raises(ConfigError, match="MAILPROC_LOG_FORMAT"):
        load_settings(config, {"MAILPROC_LOG_FORMAT": "xml"})
    config.write_text(config.read_text().replace('format = "json"', 'format = "yaml"'))
    with pytest.raises(ConfigError, match="logging.format"):
        load_settings(config, {})


def test_configure_switches_the_handler_it_owns(monkeypatch: pytest.MonkeyPatch, capsys):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    logsetup.configure("json", "INFO")
    logging.getLogger("mailproc.test").info("hello %s", "world", extra={"n": 1})
    logsetup.configure("text", "INFO")  # again: the same handler, another format
    logging.getLogger("mailproc.test").info("plain")
    assert len(root.handlers) == 1
    lines = capsys.readouterr().err.splitlines()
    assert json.loads(lines[0])["message"] == "hello world" and json.loads(lines[0])["n"] == 1
    assert lines[1].endswith("INFO mailproc.test: plain")


def test_the_cli_logs_json_lines_from_the_environment(tmp_path: Path):
    config = write_config(tmp_path)
    env = os.environ | {"MAILPROC_LOG_FORMAT": "json",
                        "MAILPROC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    subprocess.run([sys.executable, "-m", "mailproc", "--config", str(config), "init"],
                   env=env, check=True, capture_output=True, timeout=60)
    eml = sorted((REPO / "examples" / "inbox").glob("*.eml"))[0]
    mailbox.Maildir(str(tmp_path / "var" / "inbox"), create=True).add(eml.read_bytes())
    # Nothing listens on port 1: the acknowledgement is deferred with a logged warning.
    done = subprocess.run(
        [sys.executable, "-m", "mailproc", "--config", str(config), "poll"],
        env=env | {"MAILPROC_SMTP_URL": "smtp://keluhan%40contoh.co.id@127.0.0.1:1",
                   "MAILPROC_SMTP_PASSWORD": "hunter2"},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines, "expected at least one log line"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["level"] == "WARNING" and "deferred" in line["message"] for line in lines)
    assert "hunter2" not in done.stderr
