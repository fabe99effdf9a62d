"""Crash safety, proven (issue #12, item 1): `mailproc poll` killed with SIGKILL at seeded
random moments, again and again, while complaints come in (and the outbox goes out), until the
inbox is empty; then every mail is exactly one complaint, numbers have no gaps, every customer
was acknowledged exactly once (counted in the customers' mailboxes) and the audit trail — chain
and archived files — verifies. Then the same while the departments' filled forms are read:
each PTPP moves to planned once and each form gets one answer.

The mail server files each mail it accepted in the sender's Sent folder (as Gmail does) and
mailproc is told so (`mailbox.sent_folder`): that is what makes exactly-once possible.

A small count here (MAILPROC_CRASH_KILLS, default 8); `python bench/crash.py` runs 200."""

from __future__ import annotations

import os
from collections import Counter

from conftest import MailEnv
from crashharness import (
    ACK,
    complaint,
    database_facts,
    department_mail,
    in_reply_to,
    kill_until_done,
    main_env,
    reply_with_form,
)

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
    facts = database_facts(mailenv.database)
    # Every mail exactly once, each a complaint, numbered without gaps.
    assert sorted(facts["incoming"]) == sorted(set(facts["incoming"]))
    assert len(facts["incoming"]) == MAILS, run
    assert facts["seqs"] == list(range(1, MAILS + 1)), run
    assert mailenv.dovecot.fetch_raw(mailenv.inbox) == []
    # Every customer acknowledged exactly once, counted in the customers' own mailboxes (the
    # relay's list misses a mail whose client died while the server was still delivering it).
    acks = {s: sum(ACK.encode() in raw[:4000] for raw in mailenv.dovecot.fetch_raw(s))
            for s in senders}
    assert acks == {s: 1 for s in senders}, (run, facts["outbox"])
    verify = mailenv.run("audit", "verify", "--json")
    assert verify.exit_code == 0, verify.output
    assert run.kills >= KILLS, run  # the harness did kill that often while there was work

    # Then the departments answer with their forms filled, and polls die in the middle of
    # reading them: each PTPP moves to planned once, each answer gets one reply.
    forms = department_mail(mailenv)
    replies = [reply_with_form(ptpp, mailenv) for ptpp in forms]
    assert len(replies) == MAILS
    waiting = [raw for _, raw in replies]

    def deliver_replies() -> bool:
        for raw in waiting[:6]:
            mailenv.deliver(raw)
        del waiting[:6]
        return bool(waiting)

    second = kill_until_done(mailenv.config, main_env(mailenv.dovecot.password),
                             kills=max(2, KILLS // 2), seed=SEED + 1,
                             deliver_wave=deliver_replies)
    statuses = Counter(database_facts(mailenv.database)["statuses"])
    assert statuses == {"planned": MAILS}, (second, statuses)
    departments = {ptpp["To"].split(",")[0].strip() for ptpp in forms}
    answers = Counter(in_reply_to(raw) for dep in departments
                      for raw in mailenv.dovecot.fetch_raw(dep))
    assert {mid: answers[mid] for mid, _ in replies} == {mid: 1 for mid, _ in replies}, second
    verify = mailenv.run("audit", "verify", "--json")
    assert verify.exit_code == 0, verify.output
