"""A realistic half year of complaints for the monthly recap (issue #13, item 7): written
straight into the tables, deterministic (a seeded random), dated from a fixed month so nothing
depends on today's date. Used by tests/unit/test_recap_review.py and to draw the recap pages
kept in docs/ (see `python tests/recap_sample.py --help`).

The first complaint arrives in April 2026; July has none (a real zero); October is the month
whose recap the tests read, with complaints at every step of the procedure, repeats, returns
with their claim numbers, ratings, and a customer known by a long address only."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mailproc import store
from mailproc.domain import states
from mailproc.domain.calendar import WorkCalendar

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=WIB)  # Monday: the recap of October is due
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

CUSTOMERS = [
    ("PT Sinar Abadi Plastindo", "qa@sinarabadi.example"),
    ("CV Maju & Jaya", "pembelian@majujaya.example"),
    ("Toko Sumber Rejeki", "sumber.rejeki@mail.example"),
    ("PT Aneka Minuman Segar", "purchasing@anekaminuman.example"),
    ("", "procurement.department@pt-sentosa-makmur-sejahtera.example"),
    ("UD Berkah", "udberkah@mail.example"),
    ("PT Tirta Kencana", "qc@tirtakencana.example"),
    ("PT Kemasan Nusantara Jaya", "qa@kemasannusantara.example"),
    ("CV Sejahtera", "admin@cvsejahtera.example"),
    ("PT Air Pegunungan Murni", "logistik@apmurni.example"),
]
PRODUCTS = ["Botol PET 600 ml", "Botol PET 1500 ml", "Galon 19 L", "Tutup ulir 28 mm",
            "Preform 24 g"]
# (routing category, department, description)
KINDS = [
    ("kualitas", "qc", "Botol retak pada bagian leher setelah pengisian."),
    ("kualitas", "produksi", "Ketebalan dinding botol tidak rata, sebagian penyok."),
    ("kemasan", "gudang", "Dus kemasan basah dan sobek saat diterima."),
    ("keterlambatan", "logistik", "Pengiriman terlambat tiga hari dari jadwal PO."),
    ("kuantitas", "gudang", "Jumlah barang kurang 2 karton dari surat jalan."),
    ("tagihan", "keuangan", "Faktur ditagih dua kali untuk PO yang sama."),
    ("kualitas", "qc", "Warna tutup tidak seragam dalam satu batch."),
]
# Complaints received per month (2026); July is a real zero.
PER_MONTH = {4: 3, 5: 5, 6: 4, 7: 0, 8: 6, 9: 7, 10: 11}


def _naive(moment: datetime) -> datetime:
    return store.utcnow_naive(moment)


def populate(cal: WorkCalendar, *, plan_days: int = 3, seed: int = 13) -> list[str]:
    """The complaints, their PTPP cycles, return-claim forms and ratings; their numbers, oldest
    first. Every moment after NOW is left out (a step not yet done), so statuses follow."""
    rnd = random.Random(seed)
    now = NOW
    customers = [store.Customer.create(email=email, name=name, created_at=_naive(NOW))
                 for name, email in CUSTOMERS]
    numbers: list[str] = []
    earlier: dict[tuple[int, str], tuple[str, datetime]] = {}  # (customer, product) -> last
    seq = 0
    for month, count in PER_MONTH.items():
        for k in range(count):
            seq += 1
            day = 1 + (k * 27) // max(count, 1) + rnd.randrange(2)
            received = datetime(2026, month, min(day, 28), 8 + rnd.randrange(9),
                                rnd.randrange(60), tzinfo=WIB)
            number = f"{seq:03d}/PTPP/MKT/{ROMAN[month - 1]}/2026"
            ci = rnd.choice([0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            product = rnd.choice(PRODUCTS[:3] if ci < 2 else PRODUCTS)
            category, department, text = rnd.choice(KINDS)
            # A repeat: the same customer about the same product within 60 days (domain.repeats
            # decides it at intake; here it is only written down).
            before = earlier.get((ci, product))
            repeat_of = before[0] if before and received - before[1] < timedelta(days=60) \
                else ""
            earlier[(ci, product)] = (number, received)
            rejected = seq in (9, 27)

            def at(start: datetime, working_days: float) -> datetime | None:
                moment = cal.add_working_time(start, cal.day_length * working_days)
                return moment if moment <= now else None

            first = at(received, rnd.choice([0.05, 0.1, 0.3, 0.6, 0.9, 1.4]))
            issued = None if rejected else at(received, rnd.choice([0.0, 0.2, 0.5, 0.8, 1.6]))
            cycles = []
            closed_at = None
            start = issued
            for cycle in (1, 2):
                if start is None:
                    break
                planned = at(start, rnd.choice([1.0, 2.0, 2.5, 3.0, 4.5]))
                target = (planned + timedelta(days=rnd.choice([7, 10, 14]))) if planned else None
                implemented = at(planned, rnd.choice([3, 5, 8, 12])) if planned else None
                verified = at(implemented, rnd.choice([1, 2, 4, 7])) if implemented else None
                effective = verified is not None and (cycle == 2 or rnd.random() > 0.15)
                cycles.append((cycle, start, planned, target, implemented, verified, effective))
                if verified is None:
                    break
                if effective:
                    closed_at = verified
                    break
                start = verified
            status = (states.REJECTED if rejected else states.CLOSED if closed_at
                      else states.TRIAGE if issued is None else states.ISSUED)
            if cycles and status == states.ISSUED:
                last = cycles[-1]
                status = (states.IMPLEMENTED if last[4] else states.PLANNED if last[2]
                          else states.ISSUED)
            returned = category in ("kualitas", "kuantitas") and rnd.random() < 0.5
            return_state = "{}"
            if returned and closed_at is not None:
                return_state = json.dumps(rnd.choice([
                    {"inspection": "Retak terkonfirmasi", "decision": "approved",
                     "settlement": "nota-kredit", "reference": f"NK-26{seq:03d}"},
                    {"inspection": "Sesuai keluhan", "decision": "approved",
                     "settlement": "ganti-barang"},
                    {"inspection": "Kerusakan karena penanganan pelanggan",
                     "decision": "rejected", "reason": "di luar garansi"},
                ]))
            complaint = store.Complaint.create(
                number=number, year=2026, seq=seq, status=status,
                channel=rnd.choice(["email", "email", "email", "telepon", "whatsapp"]),
                received_at=_naive(received), customer=customers[ci],
                subject=text[:40], description=text,
                category="" if rejected else category,
                department="" if issued is None else department,
                severity=rnd.choice(["minor", "minor", "mayor", "observasi"]),
                repeat_of="" if rejected else repeat_of,
                product=product, batch=f"LOT-26{month:02d}-{seq:02d}",
                quantity=f"{rnd.choice([2, 5, 12, 40])} karton",
                first_response_at=_naive(first) if first else None,
                first_response_due_at=_naive(cal.add_working_days(received, 1)),
                closed_at=_naive(closed_at) if closed_at else None,
                return_requested=returned, return_state=return_state,
                satisfaction=rnd.choice([None, 3, 4, 4, 5]) if closed_at else None,
                rejected_reason="Bukan keluhan: penawaran produk" if rejected else "",
                created_at=_naive(received), updated_at=_naive(received))
            for cycle, issued_at, planned, target, implemented, verified, effective in cycles:
                plan = {} if planned is None else {
                    "root_cause": "Suhu cetakan tidak stabil", "category_6m": "Mesin",
                    "why_1": text, "action_1_cause": "Pengendali suhu aus",
                    "action_1_corrective": "Ganti pengendali suhu",
                    "action_1_pic": "Kepala Produksi",
                    "action_1_target": f"{target.astimezone(WIB):%d/%m/%Y}" if target else ""}
                store.Ptpp.create(
                    complaint=complaint, number=number, cycle=cycle, department=department,
                    status="closed" if verified else "open", created_at=_naive(issued_at),
                    issued_at=_naive(issued_at),
                    plan_due_at=_naive(cal.add_working_days(issued_at, plan_days)),
                    planned_at=_naive(planned) if planned else None,
                    implemented_at=_naive(implemented) if implemented else None,
                    plan=json.dumps(plan), root_cause=plan.get("root_cause", ""),
                    verification_result=("effective" if effective else "not_effective")
                    if verified else "",
                    verifier="rina@contoh.co.id" if verified else "",
                    verified_at=_naive(verified) if verified else None,
                    closed_at=_naive(verified) if verified else None)
            if returned and (closed_at is not None or rnd.random() < 0.5):
                store.FormSubmission.create(
                    complaint=complaint, form="retur", cycle=1, step="retur",
                    values=json.dumps({"claim_number": f"KR-{number}"}), accepted=True,
                    sender=customers[ci].email, created_at=_naive(received))
            numbers.append(number)
    return numbers


if __name__ == "__main__":
    # python tests/recap_sample.py OUT_DIR: the recap of October 2026 as .docx (then convert
    # it with `soffice --headless --convert-to pdf` and `pdftoppm -png -r 60`).
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from appfixture import LocalApp

    from mailproc.bootstrap import build_app
    from mailproc.config import load_settings
    from mailproc.reports import jobs

    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        local = LocalApp(Path(tmp))
        settings = load_settings(local.config, {})
        store.open_database(settings.database_url)
        app = build_app(settings, clock=lambda: NOW)
        populate(app.calendar, plan_days=settings.calendar.plan_days)
        _, docx, xlsx = jobs.build_recap(app, 2026, 10, NOW)
    (out / "Rekapitulasi-Keluhan-2026-10.docx").write_bytes(docx)
    (out / "Register-Keluhan-2026-10.xlsx").write_bytes(xlsx)
    print(out / "Rekapitulasi-Keluhan-2026-10.docx")
