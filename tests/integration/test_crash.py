"""Crash safety, proven (issue #12, item 1): `mailproc poll` killed with SIGKILL at seeded
random moments, again and again, until the inbox is empty; then every mail is exactly one
complaint, numbers have no gaps, every customer was acknowledged exactly once (counted at the
SMTP server) and the audit trail — chain and archived files — verifies.

A small count here (MAILPROC_CRASH_KILLS, default 8); `python bench/crash.py` runs 200."""

from __future__ import annotations

import os
from collections import Counter

from conftest import MailEnv
from crashharness import ACK, complaint, database_facts, kill_until_done, main_env

MAILS = int(os.environ.get("MAILPROC_CRASH_MAILS", "24"))
KILLS = int(os.environ.get("MAILPROC_CRASH_KILLS", "8"))
SEED = int(os.environ.get("MAILPROC_CRASH_SEED", "20261202"))


def test_sigkill_at_random_moments_loses_nothing_and_does_nothing_twice(mailenv: MailEnv):
    # Small batches: commits, marks and flushes come often, so the kills land among them.
    text = mailenv.config.read_text()
    assert "timeout_seconds = 20\n" in text
    mailenv.config.write_text(text.replace(
        "timeout_seconds = 20\n", 'timeout_seconds = 20\nfetch_batch = 4\nsent_folder = "Sent"\n',
        1))
    mailenv.relay.sent_copies = True  # the server files what it accepted, as Gmail does
    mails = [complaint(n, mailenv.tok) for n in range(1, MAILS + 1)]
    senders = [sender for sender, _ in mails]
    waiting = list(mails)

    def deliver_wave() -> bool:  # six mails each time a poll got to its end
        for _, raw in waiting[:6]:
            mailenv.deliver(raw)
        del waiting[:6]
        return bool(waiting)

    run = kill_until_done(mailenv.config, main_env(mailenv.dovecot.password), kills=KILLS,
                          seed=SEED, deliver_wave=deliver_wave)
    facts = database_facts(mailenv.root / "var" / "mailproc.db")
    # Every mail exactly once, each a complaint, numbered without gaps.
    assert sorted(facts["incoming"]) == sorted(set(facts["incoming"]))
    assert len(facts["incoming"]) == MAILS, run
    assert facts["seqs"] == list(range(1, MAILS + 1)), run
    assert mailenv.dovecot.fetch_raw(mailenv.inbox) == []
    # Every customer acknowledged exactly once, as the SMTP server counts.
    acks = Counter(rcpt for _, rcpts, raw in mailenv.relay.received
                   if ACK.encode() in raw.split(b"\r\n\r\n", 1)[0] or ACK.encode() in raw[:2000]
                   for rcpt in rcpts)
    assert {s: acks[s] for s in senders} == {s: 1 for s in senders}, (run, facts["outbox"])
    verify = mailenv.run("audit", "verify", "--json")
    assert verify.exit_code == 0, verify.output
    assert run.kills >= KILLS, run  # the harness did kill that often while there was work
