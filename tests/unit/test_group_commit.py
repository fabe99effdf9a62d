"""Group commit (issue #11): one write transaction per batch of mail, a savepoint per mail, the
marks after the commit, each batch's mail sent before the next batch is read."""

from __future__ import annotations

import importlib
import json
import mailbox
import sqlite3
from pathlib import Path

import pytest
from appfixture import LocalApp

from mailproc import store
from mailproc.intake import services
from mailproc.outgoing import outbox as outbox_mod
from mailproc.store import queries
from mailproc.store.db import current_chain

# The module, not the database proxy that mailproc.store exports under the same name.
store_db = importlib.import_module("mailproc.store.db")


def complaint_mail(n: int) -> bytes:
    return (f"From: Pelanggan {n} <pelanggan{n}@example.com>\r\nTo: keluhan@contoh.co.id\r\n"
            f"Subject: Barang rusak {n}\r\nMessage-ID: <m{n}@example.com>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Kemasan penyok, botol retak saat diterima.\r\n").encode()


def batch_app(tmp_path: Path, size: int, mails: int) -> LocalApp:
    app = LocalApp(tmp_path)
    text = app.config.read_text(encoding="utf-8")
    assert "fetch_batch = 50" in text
    app.config.write_text(text.replace("fetch_batch = 50", f"fetch_batch = {size}"),
                          encoding="utf-8")
    for n in range(1, mails + 1):
        app.deliver(complaint_mail(n))
    return app


def inbox(app: LocalApp, folder: str | None = None) -> list[str]:
    box = mailbox.Maildir(str(app.root / "var" / "inbox"), create=False)
    if folder is not None:
        box = box.get_folder(folder)
    return [m["Subject"] for m in box]


def numbers(app: LocalApp) -> list[str]:
    return sorted(r["number"] for r in app.json("complaints", "list"))


def test_one_write_transaction_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    app = batch_app(tmp_path, size=3, mails=5)
    transactions: list[int] = []
    real = queries.add_complaint

    def spy(**kwargs):
        transactions.append(id(current_chain()))
        return real(**kwargs)

    monkeypatch.setattr(queries, "add_complaint", spy)
    summary = app.poll()
    assert summary["outcomes"] == {"complaint": 5}
    assert len(transactions) == 5
    # Mails 1-3 in one transaction, 4-5 in the next.
    assert len(set(transactions[:3])) == 1 and len(set(transactions[3:])) == 1
    assert transactions[0] != transactions[3]
    assert app.json("audit", "verify")["ok"]


def test_a_failing_mail_is_undone_alone_and_quarantined(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    app = batch_app(tmp_path, size=5, mails=3)
    real = services._create_message

    def flaky(app_, fetched, mail, **kwargs):
        if mail is not None and mail.subject == "Barang rusak 2" and kwargs.get("complaint"):
            raise RuntimeError("archive hiccup")  # after the complaint row was written
        return real(app_, fetched, mail, **kwargs)

    monkeypatch.setattr(services, "_create_message", flaky)
    summary = app.poll()
    assert summary["outcomes"] == {"complaint": 2, "quarantined": 1}
    # Mail 2's complaint was rolled back with its savepoint: mail 3 took its number.
    assert summary["registered"] == [app.clock.number(1),
                                     app.clock.number(2)]
    assert numbers(app) == sorted(summary["registered"])
    assert inbox(app, "Quarantine") == ["Barang rusak 2"]
    assert sorted(inbox(app, "Processed")) == ["Barang rusak 1", "Barang rusak 3"]
    assert app.json("audit", "verify")["ok"]


def test_a_batch_that_does_not_commit_leaves_its_mail_in_place(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch):
    app = batch_app(tmp_path, size=2, mails=3)
    calls = {"n": 0}
    real_write = store_db.write_head

    def locked_once(head):
        calls["n"] += 1
        if calls["n"] == 1:  # the first batch's chain head, just before its commit
            raise sqlite3.IntegrityError("UNIQUE constraint failed: chain_head.id")
        return real_write(head)

    monkeypatch.setattr(store_db, "write_head", locked_once)
    summary = app.poll()
    assert summary["outcomes"] == {"complaint": 1}  # the second batch (mail 3)
    assert len(summary["errors"]) == 1 and "UNIQUE constraint" in summary["errors"][0]
    assert sorted(inbox(app)) == ["Barang rusak 1", "Barang rusak 2"]  # not moved
    assert len(numbers(app)) == 1
    archived = [p for p in (app.root / "archive").rglob("*.eml") if ".staging" not in p.parts]
    assert len(archived) == 1  # the failed batch's staged files were removed
    monkeypatch.undo()
    again = app.poll()
    assert again["outcomes"] == {"complaint": 2}
    assert len(numbers(app)) == 3 and inbox(app) == []
    assert app.json("audit", "verify")["ok"]


def test_a_database_locked_past_its_timeout_stops_the_poll_with_the_mail_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """'database is locked' is not this batch's fault: every batch after it would wait the
    busy timeout and fail the same way. The poll stops with one line, leaves the mail of the
    failed batch and the ones after it in the mailbox, and says how many were recorded."""
    from mailproc.intake import services

    app = batch_app(tmp_path, size=2, mails=5)
    calls = {"n": 0}
    real = services.process_mail

    def locked_at_the_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # the second batch's second mail
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "process_mail", locked_at_the_fourth)
    result = app.run("poll", "--json")
    assert result.exit_code == 1
    assert "database is busy" in result.output and "fuser" in result.output
    assert "2 mail(s) of this poll were recorded before it" in result.output
    assert len(numbers(app)) == 2
    assert sorted(inbox(app)) == ["Barang rusak 3", "Barang rusak 4", "Barang rusak 5"]
    assert inbox(app, "Quarantine") == []
    monkeypatch.undo()
    assert app.poll()["outcomes"] == {"complaint": 3}
    assert len(numbers(app)) == 5 and inbox(app) == []


def test_each_batch_is_sent_before_the_next_is_read(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    app = batch_app(tmp_path, size=2, mails=5)
    seen: list[int] = []
    real = outbox_mod.flush

    def spy(*args, **kwargs):
        seen.append(store.Complaint.select().count())
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox_mod, "flush", spy)
    result = app.run("poll", "--json")
    assert result.exit_code == 0, result.output
    # After each batch of 2 (then 1), and once at the end of the cycle.
    assert seen == [2, 4, 5, 5]
    summary = json.loads(result.stdout)
    kinds = sorted(r["kind"] for r in app.json("outbox", "list", "--all"))
    assert kinds == sorted(["ack", "notice_new", "ptpp_issue"] * 5)
    assert summary["sent"] == 15 and summary["failed"] == summary["deferred"] == 0


def test_freed_memory_goes_back_after_each_batch(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    from mailproc import memory

    assert memory.release() is True  # glibc: the allocator can be asked
    app = batch_app(tmp_path, size=2, mails=5)
    calls: list[int] = []
    real = memory.release

    def spy() -> bool:
        calls.append(store.Complaint.select().count())
        return real()

    monkeypatch.setattr(memory, "release", spy)
    assert app.poll()["outcomes"] == {"complaint": 5}
    assert calls == [2, 4, 5]
