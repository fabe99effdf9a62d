"""IMAP IDLE in `mailproc run` (issue #12, item 4): with the interval poll an hour away, a
mail that arrives is acknowledged within seconds, because the IDLE watcher tells the loop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import MailEnv
from crashharness import ACK, complaint, main_env


def _acked(mailenv: MailEnv, sender: str) -> bool:
    return any(ACK.encode() in raw[:4000] for raw in mailenv.dovecot.fetch_raw(sender))


def test_new_mail_is_handled_on_arrival_not_at_the_next_poll(mailenv: MailEnv):
    text = mailenv.config.read_text()
    mailenv.config.write_text(text + "\n[schedule]\npoll_minutes = 60\n")
    run = subprocess.Popen([sys.executable, "-m", "mailproc", "--config", str(mailenv.config),
                            "run"], env=main_env(mailenv.dovecot.password),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(3)  # started, polled once, IDLE waiting
        assert run.poll() is None, run.stderr.read().decode() if run.stderr else ""
        for n in (1, 2):
            sender, raw = complaint(n, mailenv.tok)
            mailenv.deliver(raw)
            deadline = time.monotonic() + 30  # the next interval poll is an hour away
            while not _acked(mailenv, sender) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _acked(mailenv, sender), f"mail {n} not acknowledged on arrival"
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            _, err = run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            _, err = run.communicate()
    log = err.decode()
    assert "on new mail (IMAP IDLE)" in log, log[-3000:]


def test_idle_reconnects_after_the_server_drops_it(mailenv: MailEnv):
    """The server cuts the IDLE connection (`doveadm kick`: BYE, as at a restart or a
    provider's cut-off): the watcher says so in one line, reconnects by itself after its
    backoff, and the next mail is again handled on arrival, the interval poll an hour away."""
    text = mailenv.config.read_text()
    mailenv.config.write_text(text + "\n[schedule]\npoll_minutes = 60\n")
    run = subprocess.Popen([sys.executable, "-m", "mailproc", "--config", str(mailenv.config),
                            "run"], env=main_env(mailenv.dovecot.password),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(3)  # started, polled once, IDLE waiting
        assert run.poll() is None, run.stderr.read().decode() if run.stderr else ""
        for n in (1, 2, 3):
            mailenv.dovecot.kick(mailenv.inbox)
            time.sleep(1)
            sender, raw = complaint(n, mailenv.tok)
            mailenv.deliver(raw)
            deadline = time.monotonic() + 30  # backoff 2, 4, 8 s; the poll an hour away
            while not _acked(mailenv, sender) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _acked(mailenv, sender), f"mail {n} not handled after IDLE was dropped"
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            _, err = run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            _, err = run.communicate()
    log = err.decode()
    assert log.count("IMAP IDLE connection lost") == 3, log[-3000:]
    assert "Traceback" not in log and "polling every schedule.poll_minutes only" not in log


def test_latency_from_arrival_to_acknowledgement(mailenv: MailEnv, capsys):
    """`python bench/idle.py`: arrival → acknowledgement delivered by the SMTP server, over
    MAILPROC_IDLE_MAILS mails one after another (skipped unless that is set)."""
    import json
    import os
    import statistics

    import pytest

    count = int(os.environ.get("MAILPROC_IDLE_MAILS", "0"))
    if not count:
        pytest.skip("a benchmark: python bench/idle.py")
    text = mailenv.config.read_text()
    mailenv.config.write_text(text + "\n[schedule]\npoll_minutes = 60\n")
    run = subprocess.Popen([sys.executable, "-m", "mailproc", "--config", str(mailenv.config),
                            "run"], env=main_env(mailenv.dovecot.password),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    latencies = []
    try:
        time.sleep(3)
        for n in range(1, count + 1):
            sender, raw = complaint(n, mailenv.tok)
            started = time.monotonic()
            mailenv.deliver(raw)
            while not _acked(mailenv, sender):
                assert time.monotonic() - started < 60, f"mail {n}: no acknowledgement"
                time.sleep(0.02)
            latencies.append(time.monotonic() - started)
            time.sleep(0.5)
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.communicate()
    figures = {"mails": count, "median_s": statistics.median(latencies),
               "max_s": max(latencies), "min_s": min(latencies)}
    with capsys.disabled():
        print("IDLE-BENCH " + json.dumps(figures))
