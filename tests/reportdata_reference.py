"""For tests of `store.reportdata.load_records`: the loader as it was before it read plain tuples
(peewee model instances, a query per 900 complaints for cycles and return forms), kept as the
reference, and a populated database with the awkward cases (no customer, rejected with a
closing time, unknown department, plans with and without whys/actions/dates, retur forms
refused, accepted twice, without a claim number)."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import peewee as pw

from mailproc import store
from mailproc.config import Settings
from mailproc.domain import forms, states
from mailproc.domain.records import ComplaintRecord, CycleRecord
from mailproc.store import Complaint, Customer, Ptpp, utcnow_naive

# --- the reference ----------------------------------------------------------------------------


def _cycle(p: Ptpp, department: str) -> CycleRecord:
    plan = json.loads(p.plan or "{}")
    return CycleRecord(
        cycle=p.cycle, department=department,
        issued_at=store.aware(p.issued_at), plan_due_at=store.aware(p.plan_due_at),
        planned_at=store.aware(p.planned_at), implemented_at=store.aware(p.implemented_at),
        correction=plan.get("correction", ""),
        whys=tuple(plan[f"why_{i}"] for i in range(1, 6) if plan.get(f"why_{i}", "").strip()),
        category_6m=plan.get("category_6m", ""),
        root_cause=p.root_cause or plan.get("root_cause", ""),
        actions=forms.actions_from(plan),
        completion_date=forms.parse_date(plan.get("completion_date", "")),
        completion_evidence=plan.get("completion_evidence", ""),
        verification_result=p.verification_result, verification_note=p.verification_note,
        verifier=p.verifier, verified_at=store.aware(p.verified_at),
        closed_at=store.aware(p.closed_at))


def reference_load_records(
        settings: Settings, *, received_from: datetime | None = None,
        received_to: datetime | None = None, numbers: list[str] | None = None,
        progress: Callable[[int, int], None] | None = None) -> list[ComplaintRecord]:
    s = settings
    labels = {rule.name: rule.label for rule in s.routing.categories}
    deps = {key: dep.name for key, dep in s.departments.items()}
    query = (Complaint.select(Complaint, Customer).join(Customer, pw.JOIN.LEFT_OUTER)
             .order_by(Complaint.received_at, Complaint.id))
    if received_from is not None:
        query = query.where(Complaint.received_at >= utcnow_naive(received_from))
    if received_to is not None:
        query = query.where(Complaint.received_at < utcnow_naive(received_to))
    if numbers is not None:
        query = query.where(Complaint.number.in_(numbers))
    complaints = list(query)
    ids = [c.id for c in complaints]
    cycles: dict[int, list[Ptpp]] = defaultdict(list)
    claims: dict[int, str] = {}
    for chunk in range(0, len(ids), 900):
        part = ids[chunk:chunk + 900]
        for p in Ptpp.select().where(Ptpp.complaint.in_(part)).order_by(Ptpp.cycle):
            cycles[p.complaint_id].append(p)
        for sub in (store.FormSubmission.select()
                    .where(store.FormSubmission.complaint.in_(part),
                           store.FormSubmission.form == "retur",
                           store.FormSubmission.accepted == True)):  # noqa: E712
            values = json.loads(sub.values)
            claims[sub.complaint_id] = values.get("claim_number", "") or "diterima"
    records = []
    total = len(complaints)
    for i, c in enumerate(complaints, start=1):
        customer = c.customer if c.customer_id else None
        records.append(ComplaintRecord(
            number=c.number, year=c.year, seq=c.seq,
            received_at=store.aware(c.received_at),  # type: ignore[arg-type]
            channel=c.channel,
            customer=(customer.name or customer.email or "") if customer else "",
            customer_email=(customer.email or "") if customer else "",
            subject=c.subject, description=c.description, product=c.product, batch=c.batch,
            quantity=c.quantity, category=labels.get(c.category, ""),
            department=deps.get(c.department, c.department), status=c.status,
            valid=c.status != states.REJECTED,
            first_response_at=store.aware(c.first_response_at),
            first_response_due_at=store.aware(c.first_response_due_at),
            closed_at=store.aware(c.closed_at) if c.status == states.CLOSED else None,
            return_requested=c.return_requested, return_claim=claims.get(c.id, ""),
            remarks=c.rejected_reason,
            cycles=tuple(_cycle(p, deps.get(p.department, p.department))
                         for p in cycles.get(c.id, []))))
        if progress is not None and (i % 1000 == 0 or i == total):
            progress(i, total)
    return records


# --- a populated database ---------------------------------------------------------------------

START = datetime(2025, 11, 1, tzinfo=UTC)
CATEGORIES = ["kualitas", "kemasan", "keterlambatan", "tagihan", "", "tidak_dikenal"]
DEPARTMENTS = ["qc", "gudang", "logistik", "keuangan", "", "bagian_lama"]
PLANS = [
    {},
    {"root_cause": "Suhu cetakan tidak stabil", "category_6m": "Mesin",
     "why_1": "Botol retak", "why_2": "  ", "why_3": "Pengendali aus",
     "action_1_cause": "Pengendali aus", "action_1_corrective": "Ganti pengendali",
     "action_1_pic": "Kepala Produksi", "action_1_target": "20/10/2026",
     "action_3_corrective": "Latih operator", "action_3_target": "bukan tanggal",
     "completion_date": "16 Oktober 2026", "completion_evidence": "Foto",
     "correction": "Botol dipisahkan"},
    {"action_1_target": "2026-11-30T00:00:00Z", "completion_date": "31/02/2026"},
    {"root_cause": "Salah label", "action_2_preventive": "Cek label", "action_2_pic": "Gudang"},
]


def populate(n: int, seed: int) -> list[str]:
    """n complaints with cycles and return forms; returns their numbers, oldest first."""
    rnd = random.Random(seed)
    naive = START.replace(tzinfo=None)
    customers = [None]
    for i in range(12):
        customers.append(store.Customer.create(
            email=None if i % 5 == 0 else f"c{i}@example.com",
            name="" if i % 3 == 0 else f"Pelanggan {i}", created_at=naive))
    statuses = list(states.STATUSES)
    numbers = []
    with store.db.atomic():
        for i in range(1, n + 1):
            # whole seconds and microseconds; some complaints share a receipt time
            when = naive + timedelta(seconds=rnd.randrange(365 * 86400),
                                     microseconds=rnd.choice([0, 0, rnd.randrange(10**6)]))
            if i % 17 == 0 and numbers:
                when = store.Complaint.get(store.Complaint.number == numbers[-1]).received_at
            status = rnd.choice(statuses)

            def maybe(td: timedelta, when: datetime = when) -> datetime | None:
                return when + td if rnd.random() < 0.7 else None

            number = f"{i:04d}/PTPP/MKT/2026"
            numbers.append(number)
            c = store.Complaint.create(
                number=number, year=2026, seq=i, status=status,
                channel=rnd.choice(["email", "telepon", "whatsapp"]), received_at=when,
                customer=rnd.choice(customers), subject=f"Keluhan {i}",
                description=rnd.choice(["Botol retak.", "", "Kemasan penyok\nbaris dua"]),
                category=rnd.choice(CATEGORIES), department=rnd.choice(DEPARTMENTS),
                product="Botol PET 600 ml", batch=f"LOT-{i:04d}", quantity=f"{i} pcs",
                first_response_at=maybe(timedelta(hours=3)),
                first_response_due_at=maybe(timedelta(hours=24)),
                closed_at=maybe(timedelta(days=9)), return_requested=rnd.random() < 0.3,
                rejected_reason="Bukan keluhan" if status == states.REJECTED else "",
                created_at=when, updated_at=when)
            history = list(range(1, rnd.choice([0, 1, 1, 2, 3]) + 1))
            rnd.shuffle(history)  # stored out of order: the loader sorts by cycle
            for cycle in history:
                plan = rnd.choice(PLANS)
                store.Ptpp.create(
                    complaint=c, number=number, cycle=cycle,
                    department=rnd.choice(DEPARTMENTS), status="open", created_at=when,
                    issued_at=maybe(timedelta(hours=2)), plan_due_at=maybe(timedelta(days=3)),
                    planned_at=maybe(timedelta(days=2)),
                    implemented_at=maybe(timedelta(days=5)),
                    plan=json.dumps(plan) if plan else rnd.choice(["", "{}"]),
                    root_cause=rnd.choice(["", "Akar di kolom"]),
                    verification_result=rnd.choice(["", "effective", "not_effective"]),
                    verification_note=rnd.choice(["", "Cukup"]),
                    verifier=rnd.choice(["", "qa@contoh.co.id"]),
                    verified_at=maybe(timedelta(days=8)), closed_at=maybe(timedelta(days=9)))
            for _ in range(rnd.choice([0, 0, 0, 1, 2])):
                values = rnd.choice([{"claim_number": f"KL-{i}"}, {"claim_number": ""}, {}])
                store.FormSubmission.create(
                    complaint=c, form=rnd.choice(["retur", "retur", "ptpp"]), cycle=1,
                    step="retur", values=json.dumps(values), accepted=rnd.random() < 0.7,
                    sender="cs@example.com", created_at=when)
    return numbers
