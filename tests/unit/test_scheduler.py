from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest

from mailproc.errors import AlreadyRunning, MailboxError
from mailproc.ops.scheduler import guarded, instance_lock


def test_a_failing_job_is_logged_and_returns(caplog):
    calls = []

    def boom():
        calls.append(1)
        raise RuntimeError("bug")

    job = guarded("poll", boom)
    with caplog.at_level(logging.ERROR):
        job()
        job()
    assert len(calls) == 2
    assert "poll failed unexpectedly" in caplog.text


def test_expected_errors_are_one_line(caplog):
    def down():
        raise MailboxError("cannot connect to IMAP server x:993")

    with caplog.at_level(logging.ERROR):
        guarded("poll", down)()
    assert "cannot connect" in caplog.text and "Traceback" not in caplog.text


def test_schedule_keeps_running_other_jobs_after_a_failure():
    import schedule

    sched = schedule.Scheduler()
    ran = []
    sched.every(1).seconds.do(guarded("bad", lambda: 1 / 0))
    sched.every(1).seconds.do(guarded("good", lambda: ran.append(1)))
    sched.run_all()
    sched.run_all()
    assert ran == [1, 1]
    assert all(job.next_run is not None for job in sched.jobs)


def _hold(path: str, q) -> None:
    with instance_lock(path, "sqlite:///x.db"):
        q.put("locked")
        q.get()  # wait for the parent


def test_one_instance_per_database(tmp_path: Path):
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_hold, args=(str(tmp_path), q))
    p.start()
    try:
        assert q.get(timeout=20) == "locked"
        with pytest.raises(AlreadyRunning), instance_lock(tmp_path, "sqlite:///x.db"):
            pass
        with instance_lock(tmp_path, "sqlite:///other.db"):
            pass  # another database is fine
    finally:
        q.put("done")
        p.join(10)
    with instance_lock(tmp_path, "sqlite:///x.db"):
        pass
