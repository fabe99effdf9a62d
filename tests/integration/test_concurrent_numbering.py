"""Several processes register complaints at the same moment: PTPP numbers must come out
gap-free and unique, and the event hash chain must not fork. SQLite here (a WAL file in
tmp_path, no server); test_postgres.py runs the same check on PostgreSQL with these helpers.

Each worker is a separate process ('spawn': nothing inherited, its own connection) that goes
through the real intake path, services.process_mail, for its own batch of mails.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from mailproc import bootstrap, store
from mailproc.bootstrap import App
from mailproc.config import Settings, load_settings
from mailproc.intake import services
from mailproc.intake.mailbox import Fetched

REPO = Path(__file__).resolve().parents[2]
ROUTING = (REPO / "tests" / "fixtures" / "routing.toml").read_text(encoding="utf-8")

# A fixed clock: the PTPP number holds the year and month, so the expected numbers do not
# depend on when the test runs (a run across New Year would otherwise see two sequences).
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 WIB, March
YEAR, MONTH = 2026, 3
WORKERS = 3
PER_WORKER = 15
RUN_TIMEOUT = 180.0


def fixed_clock() -> datetime:
    return NOW


def write_config(root: Path, database_url: str) -> Path:
    """A complete mailproc config under `root` that needs no mail server: mail comes in
    through process_mail directly and goes out into a Maildir."""
    deps = "\n".join(
        f'[departments.{k}]\nname = "{name}"\naddresses = ["{k}@contoh.co.id"]\n'
        for k, name in (("qc", "Quality Control"), ("produksi", "Produksi"),
                        ("gudang", "Gudang"), ("logistik", "Logistik"),
                        ("keuangan", "Keuangan")))
    path = root / "mailproc.toml"
    path.write_text(f"""
[paths]
root = "."
templates = "{REPO / 'doc_templates'}"

[company]
name = "PT Contoh Industri"
domains = ["contoh.co.id"]
sender_address = "keluhan@contoh.co.id"
sender_name = "Layanan Keluhan PT Contoh Industri"
timezone = "Asia/Jakarta"

[mailbox]
url = "maildir:var/inbox"

[smtp]
url = "maildir:var/sent"

[database]
url = "{database_url}"

[people]
marketing_admin = ["admin@contoh.co.id"]
sales_marketing = ["sales@contoh.co.id"]
operations_manager = ["ops@contoh.co.id"]

{deps}

{ROUTING}
""", encoding="utf-8")
    return path


def settings_for(config: Path) -> Settings:
    # env={}: a developer's MAILPROC_* variables must not redirect the test's database.
    return load_settings(config, env={})


def complaint_mail(tag: str, body: str = "") -> bytes:
    """A customer's complaint from its own sender (so each gets its acknowledgement)."""
    msg = EmailMessage()
    msg["From"] = f"Pelanggan {tag} <pelanggan-{tag}@mitra.example.com>"
    msg["To"] = "Keluhan PT Contoh <keluhan@contoh.co.id>"
    msg["Subject"] = f"Keluhan botol retak ({tag})"
    msg["Date"] = format_datetime(NOW)
    msg["Message-ID"] = f"<complaint-{tag}@mitra.example.com>"
    msg.set_content(body or "Dengan hormat,\n\nBotol PET 600 ml yang kami terima retak dan "
                            f"kemasan penyok. No. batch: LOT-{tag}.\n\nTerima kasih")
    return bytes(msg)


def fetched(uid: str, raw: bytes) -> Fetched:
    return Fetched(uid=uid, size=len(raw), raw=raw, received_at=NOW)


def make_app(config: Path) -> App:
    settings = settings_for(config)
    store.open_database(settings.database_url)
    return bootstrap.build_app(settings, clock=fixed_clock)


def init_database(config: Path) -> Settings:
    settings = settings_for(config)
    store.open_database(settings.database_url)
    try:
        store.init_schema()
    finally:
        store.db.close()
    return settings


# ---- the workers -------------------------------------------------------------------------

def register_worker(config: str, worker: int, count: int, barrier: Any, results: Any) -> None:
    """Child process: connect, wait for the others, then register `count` complaints."""
    try:
        app = make_app(Path(config))
        store.check_schema()  # connects now, so the race below is about registering only
        mails = [complaint_mail(f"w{worker}-{i:02d}") for i in range(count)]
        barrier.wait(timeout=60)
        outcomes = []
        for i, raw in enumerate(mails):
            out = services.process_mail(app, fetched(f"{worker}-{i}", raw),
                                        source_key=f"worker-{worker}")
            outcomes.append((out.verdict, out.number, out.reason))
        results.put((worker, outcomes, ""))
    except BaseException:
        results.put((worker, [], traceback.format_exc()))
        raise
    finally:
        store.db.close()


def run_workers(config: Path, workers: int = WORKERS,
                per_worker: int = PER_WORKER) -> list[tuple[str, str, str]]:
    """Run the workers at once; returns every outcome. Kills leftovers whatever happens."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [ctx.Process(target=register_worker, name=f"register-{w}", daemon=True,
                         args=(str(config), w, per_worker, barrier, results))
             for w in range(workers)]
    collected: dict[int, list[tuple[str, str, str]]] = {}
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + RUN_TIMEOUT
        while len(collected) < workers:
            if time.monotonic() > deadline:
                pytest.fail(f"workers not done in {RUN_TIMEOUT:.0f} s")
            try:
                worker, outcomes, error = results.get(timeout=0.5)
            except queue.Empty:
                dead = [p for w, p in enumerate(procs)
                        if w not in collected and p.exitcode is not None]
                if dead:
                    pytest.fail(f"{dead[0].name} died with exit code {dead[0].exitcode} "
                                "without reporting")
                continue
            if error:
                pytest.fail(f"worker {worker} failed:\n{error}")
            collected[worker] = outcomes
        for p in procs:
            p.join(30)
            assert p.exitcode == 0, f"{p.name} exit code {p.exitcode}"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join(5)
        results.close()
        results.join_thread()
    return [o for w in sorted(collected) for o in collected[w]]


# ---- the checks --------------------------------------------------------------------------

def check_event_chain() -> int:
    """Every event's prev_hash is the hash of the one before, each hash is right, and the
    head points at the last one. Returns the number of events."""
    events = list(store.Event.select().order_by(store.Event.id))
    prev = store.GENESIS_HASH
    for ev in events:
        assert ev.prev_hash == prev, f"chain broken at event {ev.id} ({ev.kind})"
        number = ev.complaint.number if ev.complaint_id else ""
        assert ev.hash == store.event_hash(ev.prev_hash, ev.at, ev.actor, ev.source, ev.kind,
                                           number, ev.data), f"event {ev.id} hash"
        prev = ev.hash
    assert store.ChainHead.get_by_id(1).hash == prev
    forks = [h for h, n in Counter(ev.prev_hash for ev in events).items() if n > 1]
    assert not forks, f"chain forked after {forks}"
    return len(events)


@dataclass
class Registered:
    numbers: list[str]
    events: int


def check_registered(settings: Settings, outcomes: list[tuple[str, str, str]],
                     total: int) -> Registered:
    """The outcomes and the database after `total` registrations in one month."""
    bad = [o for o in outcomes if o[0] != "complaint"]
    assert not bad, f"not registered: {bad[:5]}"
    assert len(outcomes) == total
    numbering = settings.numbering
    expected = [numbering.format(seq, YEAR, MONTH) for seq in range(1, total + 1)]
    assert sorted(o[1] for o in outcomes) == sorted(expected)

    rows = list(store.Complaint.select().order_by(store.Complaint.seq))
    assert [c.seq for c in rows] == list(range(1, total + 1)), "gap or duplicate"
    assert {c.year for c in rows} == {YEAR}
    assert [c.number for c in rows] == expected
    assert store.NumberSequence.get_by_id(YEAR).last == total
    assert store.Ptpp.select().count() == total
    assert store.Message.select().where(store.Message.direction == "in").count() == total

    # Each complaint queued its acknowledgement, the notice and the PTPP form to the
    # department ('retak' routes to QC), in the same transaction.
    kinds = Counter((m.complaint_id, m.kind) for m in store.OutgoingMail.select())
    assert len(kinds) == 3 * total and set(kinds.values()) == {1}
    assert {k for _, k in kinds} == {"ack", "notice_new", "ptpp_issue"}
    assert {m.status for m in store.OutgoingMail.select()} == {"queued"}
    # Forms are rendered before the transaction for a foreseen number; one a concurrent
    # registration took first was rendered again: each form names its own complaint.
    docs = list(store.Document.select())
    assert len(docs) == total
    assert all(d.filename == f"PTPP-{numbering.slug(d.complaint.number)}.docx" for d in docs)

    events = check_event_chain()
    # mail_received + complaint_registered + 3 × mail_queued + ptpp_issued per complaint, and
    # files_archived for the raw mail and for the form (issue #12)
    assert events == 8 * total
    return Registered([c.number for c in rows], events)


# ---- SQLite ------------------------------------------------------------------------------

def test_sqlite_concurrent_registration_numbers_without_gaps(tmp_path: Path) -> None:
    config = write_config(tmp_path, "sqlite:///var/mailproc.db")
    (tmp_path / "var").mkdir()
    settings = init_database(config)

    outcomes = run_workers(config)

    store.open_database(settings.database_url)
    try:
        assert store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        check_registered(settings, outcomes, WORKERS * PER_WORKER)
    finally:
        store.db.close()
