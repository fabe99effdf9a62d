"""What a crash leaves half done is finished by the next run (issue #12, items 1 and 2): mail
left 'sending' is reconciled against the Sent folder (or flagged), files left staged after
their commit go to their place, and the outbox lock is one holder at a time."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from appfixture import LocalApp

from mailproc import store
from mailproc.archive import Archive
from mailproc.bootstrap import build_app
from mailproc.config import load_settings
from mailproc.outgoing import outbox


def _app(local: LocalApp):
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    return build_app(settings, local.clock)


def _queue(local: LocalApp, n: int) -> list[str]:
    app = _app(local)
    ids = []
    with store.transaction():
        for i in range(n):
            row = outbox.queue_mail(settings=app.settings, now=app.clock(), kind="test",
                                    to=[f"c{i}@example.com"], subject=f"uji {i}", body="isi",
                                    complaint=None)
            ids.append(row.message_id)
    return ids


def _crash_while_sending(local: LocalApp) -> None:
    """What a SIGKILL between the claim and the 'sent' mark leaves."""
    db = sqlite3.connect(local.root / "var" / "mailproc.db")
    db.execute("update outgoing_mail set status = 'sending' where status = 'queued'")
    db.commit()
    db.close()


def _statuses(local: LocalApp) -> dict[str, str]:
    db = sqlite3.connect(local.root / "var" / "mailproc.db")
    try:
        return dict(db.execute("select message_id, status from outgoing_mail"))
    finally:
        db.close()


def test_mail_left_sending_is_settled_by_the_sent_folder(tmp_path: Path):
    local = LocalApp(tmp_path)
    accepted, never = _queue(local, 2)
    _crash_while_sending(local)
    app = _app(local)
    asked: list[list[str]] = []

    def lookup(ids: list[str]) -> set[str]:
        asked.append(sorted(ids))
        return {accepted}

    result = outbox.flush(app.settings, app.archive, app.open_transport(), app.clock(),
                          sent_lookup=lookup)
    assert asked == [sorted([accepted, never])]
    assert _statuses(local) == {accepted: "sent", never: "sent"}
    assert result.sent == 1  # only the one the server never had goes out (again)
    sent = [m["Message-ID"].strip("<>") for m in local.sent()]
    assert sent == [never]


def test_without_a_sent_folder_it_is_flagged_once_never_sent_on_a_guess(tmp_path: Path):
    local = LocalApp(tmp_path)
    [mid] = _queue(local, 1)
    _crash_while_sending(local)
    app = _app(local)
    for _ in range(2):
        outbox.flush(app.settings, app.archive, app.open_transport(), app.clock())
    assert _statuses(local) == {mid: "sending"} and local.sent() == []
    listed = local.json("outbox", "list")
    [row] = [r for r in listed if r["status"] == "sending"]
    assert "whether the server accepted it is unknown" in row["last_error"]
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    kinds = [k for (k,) in db.execute("select kind from event")]
    db.close()
    assert kinds.count("mail_uncertain") == 1
    assert local.run("outbox", "retry", str(row["id"])).exit_code == 0  # a person checked
    assert local.run("outbox", "flush").exit_code == 0
    assert _statuses(local) == {mid: "sent"}
    assert [m["Message-ID"].strip("<>") for m in local.sent()] == [mid]


def test_files_left_staged_after_their_commit_are_placed(tmp_path: Path):
    hooks = []
    archive = Archive(tmp_path, lambda done, undo: hooks.append(done))
    when = datetime(2026, 3, 2, tzinfo=UTC)
    committed = archive.store_document(when, "001", "PTPP-001.docx", b"committed")
    orphan = archive.store_message(when, "_lain", "<x@example.com>", b"rolled back")
    # A path too long for a file name: staged under a hash, its path in a file beside it.
    long_name = archive.store_document(when, "g" * 120, "d" * 110 + ".docx", b"pdf")
    assert any(p.name.endswith(".rel") for p in (tmp_path / ".staging").iterdir())
    # The process dies here: no hook ran. Another process recovers.
    later = Archive(tmp_path)
    recorded = {committed, long_name}
    assert later.recover_staged(recorded.__contains__) == (2, 0)
    assert (tmp_path / committed).read_bytes() == b"committed"
    assert (tmp_path / long_name).read_bytes() == b"pdf"
    assert not (tmp_path / orphan).exists()
    # The orphan is kept while a transaction might still commit it, removed when stale.
    assert later.recover_staged(recorded.__contains__) == (0, 0)
    assert later.recover_staged(recorded.__contains__, stale_after=-1) == (0, 1)
    assert sorted(p.name for p in (tmp_path / ".staging").iterdir()) == []


def _flush_alongside(path: str, seconds: float, started) -> None:
    """Another flusher at work: holds the outbox lock shared, as `flush` does."""
    store.open_database(f"sqlite:///{path}")
    with store.shared("outbox"):
        started.set()
        time.sleep(seconds)


def test_a_row_sending_is_left_alone_while_another_flusher_is_alive(tmp_path: Path):
    """A row in 'sending' is only orphaned when no other flusher holds the outbox lock: while
    one does, it may be that flusher's mail in mid-conversation, and the flush next to it
    neither flags nor re-sends it; once that flusher is gone, the next flush settles it."""
    local = LocalApp(tmp_path)
    [mid] = _queue(local, 1)
    _crash_while_sending(local)
    app = _app(local)
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    other = ctx.Process(target=_flush_alongside,
                        args=(str(tmp_path / "var" / "mailproc.db"), 30, started))
    other.start()
    try:
        assert started.wait(20)
        asked: list[list[str]] = []

        def lookup(ids: list[str]) -> set[str]:
            asked.append(ids)
            return set()

        outbox.flush(app.settings, app.archive, app.open_transport(), app.clock(),
                     sent_lookup=lookup)
        assert asked == [] and _statuses(local) == {mid: "sending"}
        other.kill()
        other.join()
        outbox.flush(app.settings, app.archive, app.open_transport(), app.clock(),
                     sent_lookup=lookup)
        assert asked == [[mid]] and _statuses(local) == {mid: "sent"}
        assert [m["Message-ID"].strip("<>") for m in local.sent()] == [mid]
    finally:
        other.kill()
        other.join()


def _hold(path: str, seconds: float, started) -> None:
    store.open_database(f"sqlite:///{path}")
    with store.exclusive("outbox"):
        started.set()
        time.sleep(seconds)


def test_the_outbox_lock_has_one_holder_at_a_time_and_dies_with_it(tmp_path: Path):
    path = str(tmp_path / "x.db")
    store.open_database(f"sqlite:///{path}")
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, 30, started))
    holder.start()
    try:
        assert started.wait(20)
        t0 = time.monotonic()
        holder.kill()  # SIGKILL while holding it: the kernel lets go
        with store.exclusive("outbox"):
            waited = time.monotonic() - t0
        assert waited < 10
    finally:
        holder.kill()
        holder.join()


def _try_hold(path: str, seconds: float, started) -> None:
    store.open_database(f"sqlite:///{path}")
    with store.try_exclusive("poll") as mine:
        assert mine
        started.set()
        time.sleep(seconds)


def test_a_second_poller_is_refused_while_the_first_holds_the_poll_lock(tmp_path: Path):
    path = str(tmp_path / "y.db")
    store.open_database(f"sqlite:///{path}")
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(target=_try_hold, args=(path, 30, started))
    holder.start()
    try:
        assert started.wait(20)
        with store.try_exclusive("poll") as mine:
            assert not mine
        holder.kill()
        holder.join()
        with store.try_exclusive("poll") as mine:
            assert mine  # the killed holder's lock died with it
    finally:
        holder.kill()
        holder.join()


def test_a_mail_accepted_while_the_database_was_away_is_marked_sent_later(tmp_path: Path,
                                                                          monkeypatch):
    """The server accepted the mail, then the database could not record it (PostgreSQL
    restarting): the row stays 'sending'. This process knows the mail went out, so its next
    flush marks it sent, without a Sent folder and without a person, and never sends it
    again."""
    import peewee

    from mailproc.store import outbox as outbox_rows

    local = LocalApp(tmp_path)
    [mid] = _queue(local, 1)
    app = _app(local)
    real = outbox_rows.mark_sent
    calls = []

    def database_gone(row, now, **kw):
        calls.append(kw)
        if len(calls) == 1:
            raise peewee.OperationalError("server closed the connection unexpectedly")
        return real(row, now, **kw)

    monkeypatch.setattr(outbox_rows, "mark_sent", database_gone)
    try:
        outbox.flush(app.settings, app.archive, app.open_transport(), app.clock())
    except peewee.OperationalError:
        pass
    else:
        raise AssertionError("the failure to record did not surface")
    assert _statuses(local) == {mid: "sending"} and mid in outbox.ACCEPTED_UNRECORDED
    result = outbox.flush(app.settings, app.archive, app.open_transport(), app.clock())
    assert result.sent == 0 and _statuses(local) == {mid: "sent"}
    assert calls[1]["reconciled"] is True and mid not in outbox.ACCEPTED_UNRECORDED
    assert [m["Message-ID"].strip("<>") for m in local.sent()] == [mid]  # once
