"""Kill `mailproc poll` with SIGKILL at seeded random moments until the inbox is empty, then
check that nothing was lost or done twice (issue #12, item 1). Used by
tests/integration/test_crash.py with a small count and by bench/crash.py with a large one.

The poll runs as a real process (`python -m mailproc`) against the tests' Dovecot and SMTP
relay; the relay counts what the SMTP server accepted.
"""

from __future__ import annotations

import email
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
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
    typical = max_delay  # how long a poll that got to its end took: kills land inside that
    while more or run.kills < kills:
        delay = rng.uniform(min_delay, max(min_delay + 0.1, typical))
        started = time.monotonic()
        code, _ = run_poll(config, env, kill_after=delay)
        run.polls += 1
        if code is not None:
            typical = min(max_delay, time.monotonic() - started)
        else:  # give the next one longer: a poll killed too early every time makes no progress
            typical = min(max_delay, typical * 1.3)
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


def database_facts(url: str) -> dict[str, Any]:
    """What the checks need from the database at `url` (SQLite file or PostgreSQL)."""
    if url.startswith("sqlite:///"):
        con: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        import psycopg2

        con = psycopg2.connect(url)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        cur = con.cursor()
        cur.execute(sql)
        return list(cur.fetchall())

    try:
        seqs = [r[0] for r in rows("select seq from complaint order by seq")]
        keys = [r[0] for r in rows("select key from message where direction = 'in'")]
        status = dict(rows("select status, count(*) from outgoing_mail group by status"))
        statuses = [r[0] for r in rows("select status from complaint")]
        return {"seqs": seqs, "incoming": keys, "outbox": status, "statuses": statuses}
    finally:
        con.close()


def _plan() -> dict[str, str]:
    """A complete analysis and plan, dated from the real today (the polls run on the real
    clock)."""
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()

    def day(n: int) -> str:
        return (today + timedelta(days=n)).strftime("%d/%m/%Y")

    return {"correction": "Barang retak dipisahkan dan diganti.", "correction_date": day(1),
            "correction_by": "Supervisor QC", "why_1": "Leher botol retak",
            "why_2": "Suhu cetakan tidak stabil", "category_6m": "Mesin",
            "root_cause": "Pengendali suhu mesin blow molding aus",
            "action_1_cause": "Pengendali suhu aus",
            "action_1_corrective": "Ganti pengendali suhu",
            "action_1_preventive": "Cek suhu tiap awal shift",
            "action_1_pic": "Kepala Produksi", "action_1_target": day(14)}


def department_mail(env: Any) -> list[EmailMessage]:
    """The PTPP mails the departments received (each with its form)."""
    out = []
    for dep in ("qc", "produksi", "gudang", "logistik", "keuangan"):
        for msg in env.received(dep):
            if any(p.get_filename() and p.get_filename().endswith(".docx")
                   for p in msg.iter_attachments()):
                out.append(msg)
    return out


def reply_with_form(ptpp: EmailMessage, env: Any) -> tuple[str, bytes]:
    """The department's answer in the PTPP's thread, its form filled: (Message-ID, raw)."""
    from docfill import fill

    [form] = [p.get_payload(decode=True) for p in ptpp.iter_attachments()
              if p.get_filename().endswith(".docx")]
    msg = EmailMessage()
    msg["From"] = ptpp["To"].split(",")[0].strip()
    msg["To"] = ptpp["From"]
    msg["Subject"] = "RE: " + ptpp["Subject"]
    mid = make_msgid(domain="contoh.co.id")
    msg["Message-ID"] = mid
    msg["In-Reply-To"] = ptpp["Message-ID"]
    msg["References"] = ptpp["Message-ID"]
    msg.set_content("Terlampir analisis dan rencana tindakan.")
    msg.add_attachment(fill(form, _plan()), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename="PTPP.docx")
    return mid, bytes(msg)


def in_reply_to(raw: bytes) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    msg = email.message_from_bytes(head)
    return (msg.get("In-Reply-To") or "").strip()


def main_env(password: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MAILPROC_MAILBOX_PASSWORD"] = password
    env.pop("MAILPROC_CONFIG", None)
    return env
