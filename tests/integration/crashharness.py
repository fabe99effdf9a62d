"""Kill `mailproc poll` with SIGKILL at seeded random moments until the inbox is empty, then
check that nothing was lost or done twice (issue #12, item 1). Used by
tests/integration/test_crash.py with a small count and by bench/crash.py with a large one.

The poll runs as a real process (`python -m mailproc`) against the tests' Dovecot and SMTP
relay; the relay counts what the SMTP server accepted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

ACK = "Keluhan Anda telah kami terima"
GOODS = ["botol PET 600 ml", "tutup botol 28 mm", "karton box A4", "label stiker",
         "preform 25 gram", "galon 19 liter", "jerigen 5 liter", "cup 220 ml"]


def complaint(n: int, tok: str) -> tuple[str, bytes]:
    sender = f"pelanggan{n}@{tok}.example.com"
    goods = GOODS[n % len(GOODS)]
    msg = EmailMessage()
    msg["From"] = f"Pelanggan {n} <{sender}>"
    msg["To"] = "keluhan@contoh.co.id"
    msg["Subject"] = f"Keluhan {goods} PO-{n:04d}"
    msg["Message-ID"] = f"<crash{n}.{tok}@example.com>"
    msg.set_content(f"{goods.capitalize()} yang kami terima retak dan bocor, pesanan "
                    f"PO-{n:04d}, batch LOT-{n:04d}. Mohon penggantian.")
    return sender, bytes(msg)


@dataclass
class CrashRun:
    kills: int = 0
    polls: int = 0
    kill_times: list[float] = field(default_factory=list)


def run_poll(config: Path, env: dict[str, str], *, kill_after: float | None,
             timeout: float = 120) -> tuple[int | None, str]:
    """One `mailproc poll --json` process; SIGKILLed after `kill_after` seconds when given
    and still running. Returns (exit code or None when killed, stdout)."""
    proc = subprocess.Popen([sys.executable, "-m", "mailproc", "--config", str(config),
                             "poll", "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        if kill_after is not None:
            try:
                out, _ = proc.communicate(timeout=kill_after)
                return proc.returncode, out.decode()
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                return None, ""
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"poll exited {proc.returncode}: {err.decode()[-2000:]}")
        return proc.returncode, out.decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def kill_until_done(config: Path, env: dict[str, str], *, kills: int, seed: int,
                    deliver_wave: Callable[[], bool], min_delay: float = 0.3,
                    max_delay: float = 2.5) -> CrashRun:
    """Poll again and again, killing each poll at a random moment; each time a poll gets to
    its end, `deliver_wave()` puts the next mails in (False: none left). Stops after `kills`
    kills once every wave is in, then polls without a kill until a poll finds nothing to do.
    """
    rng = random.Random(seed)
    run = CrashRun()
    more = deliver_wave()
    while more or run.kills < kills:
        delay = rng.uniform(min_delay, max_delay)
        code, _ = run_poll(config, env, kill_after=delay)
        run.polls += 1
        if code is None:
            run.kills += 1
            run.kill_times.append(round(delay, 3))
        elif more:
            more = deliver_wave()
        elif run.kills < kills:
            break  # everything done before enough kills: the caller sees run.kills
    for _ in range(10):  # then let it finish: the mail left, the outbox, the reconciliation
        _, out = run_poll(config, env, kill_after=None)
        run.polls += 1
        summary = json.loads(out)
        if summary["fetched"] == 0 and summary["sent"] == 0 and summary["deferred"] == 0:
            break
        time.sleep(0.1)
    return run


def database_facts(db: Path) -> dict[str, object]:
    con = sqlite3.connect(db)
    try:
        seqs = [r[0] for r in con.execute("select seq from complaint order by seq")]
        keys = [r[0] for r in con.execute("select key from message where direction = 'in'")]
        status = dict(con.execute("select status, count(*) from outgoing_mail group by status"))
        return {"seqs": seqs, "incoming": keys, "outbox": status}
    finally:
        con.close()


def main_env(password: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MAILPROC_MAILBOX_PASSWORD"] = password
    env.pop("MAILPROC_CONFIG", None)
    return env
