"""Reports benchmark: the monthly recap and the master register export over 10,000 generated
complaints, in one run, each against the aim of 2 s on this machine (item 5 of issue #11).

    python bench/reports.py [--n 10000] [--again]

Builds a throwaway installation (the example configuration, SQLite in a temp folder), inserts
N complaints spread over the 12 months before the recap month (a third closed with a two-cycle
history, a tenth rejected, the rest open at various steps), then times, in this process:
  recap     reportjobs.build_recap: load the records, figures, 8 charts, the Word recap, the .xlsx
  register  reportjobs.export_register as .xlsx and as .csv, every complaint
The first recap pays the one-time imports (matplotlib, openpyxl, docx, the holiday data);
--again times a second recap in the same process, as a long-running `mailproc run` makes it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from appfixture import LocalApp  # noqa: E402

from mailproc import store  # noqa: E402
from mailproc.bootstrap import build_app  # noqa: E402
from mailproc.config import load_settings  # noqa: E402
from mailproc.domain import states  # noqa: E402
from mailproc.reports import jobs as reportjobs  # noqa: E402

WIB = ZoneInfo("Asia/Jakarta")
CATEGORIES = ["kualitas", "kemasan", "keterlambatan", "kuantitas", "salah_kirim", "tagihan"]
DEPARTMENTS = ["qc", "gudang", "logistik", "gudang", "gudang", "keuangan"]
PLAN = {"root_cause": "Suhu cetakan tidak stabil", "category_6m": "Mesin",
        "action_1_corrective": "Ganti pengendali", "action_1_pic": "Kepala Produksi",
        "action_1_target": "2026-10-20", "completion_date": "2026-10-16",
        "completion_evidence": "Foto"}


def populate(n: int, end: datetime, seed: int) -> None:
    rnd = random.Random(seed)
    start = end - timedelta(days=365)
    span = (end - start).total_seconds()
    customers = [store.Customer.create(email=f"c{i}@example.com", name=f"Pelanggan {i}",
                                       created_at=start.replace(tzinfo=None))
                 for i in range(300)]
    complaints, cycles = [], []
    received = sorted(start + timedelta(seconds=rnd.random() * span) for _ in range(n))
    for i, when in enumerate(received, start=1):
        k = rnd.randrange(len(CATEGORIES))
        roll = rnd.random()
        status = (states.CLOSED if roll < 0.35 else states.REJECTED if roll < 0.45 else
                  rnd.choice([states.ISSUED, states.PLANNED, states.IMPLEMENTED]))
        naive = when.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        closed = naive + timedelta(days=rnd.randint(3, 40)) if status == states.CLOSED else None
        complaints.append(dict(
            number=f"{i:05d}/PTPP/MKT/{when.year}", year=when.year, seq=i, status=status,
            channel=rnd.choice(["email", "telepon", "whatsapp"]), received_at=naive,
            customer=rnd.choice(customers).id, subject=f"Keluhan {i}",
            description="Botol retak di bagian leher, kemasan penyok. " * 3,
            category=CATEGORIES[k], department=DEPARTMENTS[k], product="Botol PET 600 ml",
            batch=f"LOT-{i:05d}", quantity=f"{rnd.randint(1, 500)} pcs",
            first_response_at=naive + timedelta(hours=rnd.randint(1, 30)),
            first_response_due_at=naive + timedelta(hours=24), closed_at=closed,
            created_at=naive, updated_at=naive))
    with store.db.atomic():
        for chunk in range(0, n, 500):
            store.Complaint.insert_many(complaints[chunk:chunk + 500]).execute()
        ids = [row.id for row in store.Complaint.select(store.Complaint.id, store.Complaint.status,
                                                        store.Complaint.received_at)]
        rows = list(store.Complaint.select())
        for c in rows:
            history = 2 if c.status == states.CLOSED and c.id % 3 == 0 else 1
            for cycle in range(1, history + 1):
                last = cycle == history
                cycles.append(dict(
                    complaint=c.id, number=c.number, cycle=cycle, department=c.department,
                    status=c.status if last else "not_effective", created_at=c.received_at,
                    issued_at=c.received_at + timedelta(hours=2),
                    plan_due_at=c.received_at + timedelta(days=3),
                    planned_at=c.received_at + timedelta(days=2),
                    plan=json.dumps(PLAN), root_cause=PLAN["root_cause"],
                    verification_result="effective" if (last and c.closed_at) else
                    ("not_effective" if not last else ""),
                    closed_at=c.closed_at if last else None))
        for chunk in range(0, len(cycles), 500):
            store.Ptpp.insert_many(cycles[chunk:chunk + 500]).execute()
    assert len(ids) == n


AIM_S = 2.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--again", action="store_true",
                   help="also time a second recap in the same process (imports done)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailproc-bench-reports-") as tmp:
        local = LocalApp(Path(tmp))
        settings = load_settings(local.config, {})
        store.open_database(settings.database_url)
        now = datetime(2026, 12, 1, 9, 0, tzinfo=WIB)
        app = build_app(settings, clock=lambda: now)
        t0 = time.perf_counter()
        populate(args.n, datetime(2026, 12, 1, tzinfo=WIB), args.seed)
        setup_s = time.perf_counter() - t0
        timings = {}
        t0 = time.perf_counter()
        fig, docx, xlsx = reportjobs.build_recap(app, 2026, 11, now)
        timings["recap (November 2026, 12 months loaded)"] = time.perf_counter() - t0
        if args.again:
            t0 = time.perf_counter()
            reportjobs.build_recap(app, 2026, 11, now)
            timings["recap again, same process"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        reg_xlsx = reportjobs.export_register(app, "xlsx", received_from=None, received_to=None)
        timings[f"register export .xlsx ({args.n:,} rows)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        reg_csv = reportjobs.export_register(app, "csv", received_from=None, received_to=None)
        timings[f"register export .csv ({args.n:,} rows)"] = time.perf_counter() - t0
    print(f"reports benchmark, {datetime.now():%Y-%m-%d}, N = {args.n:,} complaints "
          f"(generated in {setup_s:.1f}s); recap month: {fig.total} complaints, "
          f"docx {len(docx):,} B, xlsx {len(xlsx):,} B; register {len(reg_xlsx):,} B xlsx, "
          f"{len(reg_csv):,} B csv")
    for name, seconds in timings.items():
        verdict = "ok" if seconds < AIM_S else "MISSES"
        print(f"  {name:<45} {seconds:6.2f} s   {seconds / AIM_S:4.2f} x aim "
              f"(< {AIM_S:g} s): {verdict}")


if __name__ == "__main__":
    main()
