"""`mailproc run --once` (the cron entry point): one pass of the loop's jobs, then exit; it
shares the loop's one-instance-per-database lock."""

from __future__ import annotations

import json
from pathlib import Path

from appfixture import LocalApp

from mailproc.config import load_settings
from mailproc.ops.scheduler import instance_lock

MAIL = (b"From: a@example.com\r\nSubject: barang rusak\r\nMessage-ID: <once-1@example.com>\r\n"
        b"\r\nkemasan rusak\r\n")


def test_run_once_polls_sends_and_exits(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver(MAIL)
    result = app.run("run", "--once")
    assert result.exit_code == 0, result.output
    assert len(json.loads(app.run("complaints", "list", "--json").stdout)) == 1
    sent = len(app.sent())
    assert sent  # the acknowledgement went out in the same pass
    again = app.run("run", "--once")
    assert again.exit_code == 0 and len(app.sent()) == sent  # nothing twice


def test_run_once_refuses_while_run_holds_the_database(tmp_path: Path):
    app = LocalApp(tmp_path)
    settings = load_settings(app.config, {})
    with instance_lock(settings.state_dir, settings.database_url):
        result = app.run("run", "--once")
    assert result.exit_code == 4 and "another `mailproc run`" in result.output
