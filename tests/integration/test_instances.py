"""Several instances on one PostgreSQL (issue #12, item 3): two `mailproc run` processes with
state folders of their own share one database and one mailbox. Each mail is handled once, each
customer acknowledged once; the daily digest goes out once; when the instance doing the work
is killed with SIGKILL, the other takes over within a poll interval."""

from __future__ import annotations

import email
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from conftest import MailEnv
from crashharness import ACK, complaint, main_env
from pgserver import PostgresServer, start_for_tests

from mailproc import store


@pytest.fixture(scope="module")
def postgres(request: pytest.FixtureRequest) -> PostgresServer:
    return start_for_tests(request)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    url = postgres.create_database()
    try:
        yield url
    finally:
        store.db.close()
        postgres.drop_database(url.rsplit("/", 1)[1])


def _acks(mailenv: MailEnv, senders: list[str]) -> dict[str, int]:
    return {s: sum(ACK.encode() in raw[:4000] for raw in mailenv.dovecot.fetch_raw(s))
            for s in senders}


def _wait_for(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return check()


def test_two_instances_share_one_database_and_one_mailbox(mailenv: MailEnv, pg_url: str):
    base = mailenv.config.read_text()
    assert f'url = "{mailenv.database_url}"' in base
    # Every 6 seconds a poll (IDLE off: the interval poll is what takes over), the digest due
    # from midnight on.
    # The instance killed below may die in the middle of sending: with the Sent folder the
    # survivor settles that mail (the relay files accepted mail there, as Gmail does).
    mailenv.relay.sent_copies = True
    base = base.replace("timeout_seconds = 20\n", 'timeout_seconds = 20\nsent_folder = "Sent"\n', 1)
    text = base.replace(f'url = "{mailenv.database_url}"', f'url = "{pg_url}"') + (
        '\n[schedule]\npoll_minutes = 0.1\nidle = false\n\n[reports]\ndigest_at = "00:00"\n')
    configs = []
    for name in ("a", "b"):
        config = mailenv.root / "config" / f"mailproc-{name}.toml"
        config.write_text(text.replace('state = "var"', f'state = "var-{name}"')
                          if 'state = "var"' in text else
                          text.replace("[paths]\n", f'[paths]\nstate = "var-{name}"\n', 1))
        configs.append(config)
    env = main_env(mailenv.dovecot.password)
    assert subprocess.run([sys.executable, "-m", "mailproc", "--config", str(configs[0]),
                           "init"], env=env, capture_output=True).returncode == 0
    runs = [subprocess.Popen([sys.executable, "-m", "mailproc", "--config", str(c), "run"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for c in configs]
    try:
        first = [complaint(n, mailenv.tok) for n in range(1, 41)]
        for _, raw in first:
            mailenv.deliver(raw)
        senders = [s for s, _ in first]
        assert _wait_for(lambda: all(_acks(mailenv, senders).values()), 60), \
            _acks(mailenv, senders)
        runs[0].send_signal(signal.SIGKILL)  # whichever was polling, one instance is gone
        runs[0].wait()
        later = [complaint(n, mailenv.tok) for n in range(41, 46)]
        for _, raw in later:
            mailenv.deliver(raw)
        more = [s for s, _ in later]
        assert _wait_for(lambda: all(_acks(mailenv, more).values()), 30), _acks(mailenv, more)
        time.sleep(8)  # another poll round of the survivor: nothing may come twice
    finally:
        for run in runs:
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)
        logs = []
        for run in runs:
            try:
                _, err = run.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
                _, err = run.communicate()
            logs.append(err.decode(errors="replace"))
    # Neither instance tripped over the other: no error, nothing quarantined, no poll twice.
    # (A mail the killed instance left 'sending' is settled by the survivor: expected.)
    problems = [line for log in logs for line in log.splitlines()
                if (" ERROR " in line or " WARNING " in line or "Traceback" in line)
                and "left 'sending' by a crash" not in line]
    assert problems == [], problems[:10]
    assert _acks(mailenv, senders + more) == {s: 1 for s in senders + more}
    store.open_database(pg_url)
    numbers = sorted(c.seq for c in store.Complaint.select())
    assert numbers == list(range(1, 46))
    digests = store.Event.select().where(store.Event.kind == "digest_sent").count()
    digest_mails = [m for m in mailenv.received("admin") if "Ringkasan" in str(m["Subject"])]
    assert digests <= 1 and len(digest_mails) == digests


def _poll_lock_free() -> bool:
    with store.try_exclusive("poll") as mine:
        return mine


def test_the_poll_lock_has_one_holder_across_sessions(pg_url: str):
    """What makes two instances take turns: `try_exclusive` on PostgreSQL is a session
    advisory lock; a second session is refused while the first holds it, and gets it once
    the first session is gone (as when its instance is killed)."""
    import psycopg2

    store.open_database(pg_url)
    other = psycopg2.connect(pg_url)
    other.autocommit = True
    try:
        with store.try_exclusive("poll") as mine:
            assert mine
            cur = other.cursor()
            cur.execute("SELECT pg_try_advisory_lock(%s)", (store.lock_key("poll"),))
            assert cur.fetchone()[0] is False
        cur.execute("SELECT pg_try_advisory_lock(%s)", (store.lock_key("poll"),))
        assert cur.fetchone()[0] is True  # released with the with-block
        with store.try_exclusive("poll") as mine:
            assert not mine  # the other session holds it now
    finally:
        other.close()  # the session ends: its lock goes with it
    # The server ends the backend (and frees its locks) a moment after the client hangs up.
    assert _wait_for(_poll_lock_free, 10)


def test_two_flushers_on_postgresql_send_side_by_side_each_mail_once(mailenv: MailEnv,
                                                                      pg_url: str):
    """Outbox rows are claimed `FOR UPDATE SKIP LOCKED`: two `mailproc outbox flush`
    processes on one PostgreSQL send at the same time, neither waits for the other, and no
    mail goes out twice. (With one flusher at a time, the second would find nothing left.)"""
    from datetime import UTC, datetime

    from mailproc.config import load_settings
    from mailproc.outgoing import outbox

    text = mailenv.config.read_text().replace(f'url = "{mailenv.database_url}"',
                                              f'url = "{pg_url}"')
    mailenv.config.write_text(text)
    env = main_env(mailenv.dovecot.password)
    assert subprocess.run([sys.executable, "-m", "mailproc", "--config", str(mailenv.config),
                           "init"], env=env, capture_output=True).returncode == 0
    settings = load_settings(mailenv.config, {})
    store.open_database(settings.database_url)
    customer = mailenv.customer("pembeli", "example.com")
    with store.transaction():
        ids = [outbox.queue_mail(settings=settings, now=datetime.now(UTC), kind="test",
                                 to=[customer], subject=f"surat {n}", body="isi surat",
                                 complaint=None).message_id for n in range(24)]
    store.db.close()
    mailenv.relay.data_delay = 0.15  # 24 mails take ~3.6 s for one flusher alone
    flushers = [subprocess.Popen([sys.executable, "-m", "mailproc", "--config",
                                  str(mailenv.config), "outbox", "flush"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)]
    outs = []
    for proc in flushers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        outs.append(out.decode())
    sent = [int(out.split()[1].rstrip(",")) for out in outs]
    assert sum(sent) == 24 and min(sent) > 0, outs  # both took a share
    sent_ids = [email.message_from_bytes(raw)["Message-ID"].strip("<>")
                for _, _, raw in mailenv.relay.received]
    got = Counter(mid for mid in sent_ids if mid in ids)
    assert got == {mid: 1 for mid in ids}
    store.open_database(pg_url)
    assert {r.status for r in store.OutgoingMail.select()} == {"sent"}
