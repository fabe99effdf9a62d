"""Figures for the reports: the complaint register (daftar induk / rekapitulasi), lead times,
the management-review figures of the monthly recap and the status digest.

Pure domain code: standard library only, no I/O, no clock reads (`now` is a parameter).
Input is `domain.records` records (UTC datetimes); dates shown are company-local (`cal.tz`).

General rules
-------------
- Working-day figures come from `WorkCalendar.working_days_between` (working time / day length)
  and are rounded to 1 decimal.
- Rejected complaints (`valid=False`, "bukan keluhan") appear in the register and in the
  recap's `total`, and nowhere else: trends, Pareto, on-target, median and open by age count
  valid complaints only.
- A month is the company-local month of `received_at`: 2026-10-31 23:30 WIB (16:30 UTC) is
  October, 2026-11-01 02:00 WIB (2026-10-31 19:00 UTC) is November.
- A month without data is a gap (None), not a zero: in the monthly trend the months before the
  month of the first complaint on record (mailproc was not keeping them yet) and the months
  after the month of `now` (not come yet) are None; a month in between without complaints is
  a real 0. A month's median with no complaint closed is None too (a median of nothing).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from mailproc.domain import returns, states
from mailproc.domain.calendar import (
    WorkCalendar,
    due_date_end,
    overdue_by,
    triage_due,
    verify_due,
)
from mailproc.domain.records import CLAIM_WITHOUT_NUMBER, ComplaintRecord
from mailproc.domain.satisfaction import Summary, summarise
from mailproc.domain.states import SEVERITY_LABELS, Severity

__all__ = [
    "REGISTER_COLUMNS",
    "UNCLASSIFIED",
    "AGE_BUCKETS",
    "RegisterRow",
    "register_rows",
    "LeadTimes",
    "lead_times",
    "monthly_counts",
    "monthly_medians",
    "pareto",
    "pareto_top",
    "StepTargets",
    "StepLead",
    "step_lead_times",
    "RepeatItem",
    "repeat_complaints",
    "month_end",
    "closed_on_target",
    "median_days_to_close",
    "open_by_age",
    "RecapFigures",
    "recap",
    "DigestItem",
    "Digest",
    "digest",
]

REGISTER_COLUMNS: tuple[str, ...] = (
    "No",
    "No. PTPP",
    "Tanggal terima",
    "Pelanggan",
    "Saluran",
    "Produk",
    "No. batch/lot",
    "Qty",
    "Kategori",
    "Uraian",
    "Valid (Y/T)",
    "Bagian / PIC",
    "Tanggapan pertama",
    "Target selesai",
    "Tanggal selesai",
    "Lama penyelesaian (hari kerja)",
    "Status",
    "Retur (Y/T, no. klaim)",
    "Keterangan",
)

UNCLASSIFIED = "Belum terklasifikasi"  # the label of an empty category / product / customer
AGE_BUCKETS: tuple[str, ...] = ("0-2", "3-5", "6-10", ">10")
DESCRIPTION_WIDTH = 300


def _days(value: float) -> float:
    return round(value, 1)


def _local_date(moment: datetime | None, tz: tzinfo) -> date | None:
    return moment.astimezone(tz).date() if moment is not None else None


def _month_key(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"


def _shorten(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    """One line (whitespace collapsed); longer than `width` -> cut at a word boundary when one
    is near, ending with '…', at most `width` characters."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    space = cut.rfind(" ")
    if space >= width * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + "…"


# --- the register ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterRow:
    """One register line, typed, in REGISTER_COLUMNS order: int (No), str, `date` (company-local)
    or None, float (working days, 1 decimal) or None."""

    values: tuple[Any, ...]

    def display(self) -> tuple[str, ...]:
        """Every value as a string: dates dd/mm/yyyy, None '', floats with 1 decimal ('2.5')."""
        out = []
        for v in self.values:
            if v is None:
                out.append("")
            elif isinstance(v, date):
                out.append(f"{v:%d/%m/%Y}")
            elif isinstance(v, float):
                out.append(f"{v:.1f}")
            else:
                out.append(str(v))
        return tuple(out)


def _department_pic(record: ComplaintRecord) -> str:
    """'QC / Budi, Sari': the department, then the distinct PICs of the current cycle's actions
    in action order; either part alone when the other is empty."""
    cycle = record.current
    pics: list[str] = []
    for action in cycle.actions if cycle else ():
        pic = action.pic.strip()
        if pic and pic not in pics:
            pics.append(pic)
    parts = [p for p in (record.department.strip(), ", ".join(pics)) if p]
    return " / ".join(parts)


def _category(record: ComplaintRecord) -> str:
    """'Kualitas / cacat produk (Mayor)': the complaint category with the PTPP category."""
    severity = SEVERITY_LABELS.get(Severity(record.severity), record.severity)
    return f"{record.category} ({severity})" if record.category else severity


def claim_number(record: ComplaintRecord) -> str:
    """The return claim's number: the one on the customer's claim form when it arrived with
    one, else the number the form was issued with, 'KR-<PTPP number>' (ptpp.documents), once
    a return was asked for or a form arrived; '' without a return."""
    claim = record.return_claim
    if claim and claim != CLAIM_WITHOUT_NUMBER:
        return claim
    return f"KR-{record.number}" if claim or record.return_requested else ""


def _retur(record: ComplaintRecord) -> str:
    """'Y, <claim number>' when a return was asked for or its form received, then how the
    claim ended ('disetujui: Nota kredit NK-12', 'ditolak (alasan)'); else 'T'."""
    return returns.register_text(claim_number(record), record.return_requested,
                                 returns.ReturnState.from_json(record.return_state))


def _close_days(record: ComplaintRecord, cal: WorkCalendar) -> float | None:
    if record.closed_at is None:
        return None
    return _days(cal.working_days_between(record.received_at, record.closed_at))


def _remarks(record: ComplaintRecord) -> str:
    """Keterangan: the rejection reason, and each new PTPP a not-effective verification
    issued for the complaint ("No. PTPP baru")."""
    new = [f"PTPP baru (siklus {cycle}): {number}" for cycle, number in record.new_ptpps]
    return "; ".join(part for part in (record.remarks, *new) if part)


def register_rows(records: Iterable[ComplaintRecord], cal: WorkCalendar) -> list[RegisterRow]:
    """The register, one row per complaint (rejected ones included, 'Valid' = 'T'), ordered by
    `received_at` (then number), numbered 1..n. 'Lama penyelesaian' is the working days from
    receipt to closing, None while open."""
    ordered = sorted(records, key=lambda r: (r.received_at, r.number))
    rows = []
    for no, r in enumerate(ordered, start=1):
        rows.append(
            RegisterRow(
                (
                    no,
                    r.number,
                    _local_date(r.received_at, cal.tz),
                    r.customer,
                    r.channel,
                    r.product,
                    r.batch,
                    r.quantity,
                    _category(r),
                    _shorten(r.description),
                    "Y" if r.valid else "T",
                    _department_pic(r),
                    _local_date(r.first_response_at, cal.tz),
                    r.target,
                    _local_date(r.closed_at, cal.tz),
                    _close_days(r, cal),
                    states.LABELS_ID.get(r.status, r.status),
                    _retur(r),
                    _remarks(r),
                )
            )
        )
    return rows


# --- lead times --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadTimes:
    """Working days (1 decimal); None when a moment is missing."""

    first_response: float | None  # receipt -> first response to the customer
    analysis: float | None  # first cycle: PTPP issued -> its analysis & plan received
    closing: float | None  # receipt -> closed


def lead_times(record: ComplaintRecord, cal: WorkCalendar) -> LeadTimes:
    """The closure report's lead times. `analysis` is measured on the FIRST cycle only (issued
    -> plan received): it is the responsible party's response to the PTPP (procedure step 6);
    later cycles after a 'not effective' verdict are part of `closing`, and counting up to the
    last plan would double count the failed cycles' implementation and verification."""

    def between(a: datetime | None, b: datetime | None) -> float | None:
        if a is None or b is None:
            return None
        return _days(cal.working_days_between(a, b))

    first = record.cycles[0] if record.cycles else None
    return LeadTimes(
        first_response=between(record.received_at, record.first_response_at),
        analysis=between(first.issued_at, first.planned_at) if first else None,
        closing=between(record.received_at, record.closed_at),
    )


# --- management review -------------------------------------------------------------------------


def _valid(records: Iterable[ComplaintRecord]) -> list[ComplaintRecord]:
    return [r for r in records if r.valid]


def _month_range(end_month: tuple[int, int], months: int) -> list[str]:
    year, month = end_month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def _with_data(keys: list[str], tz: tzinfo, data_from: datetime | None,
               now: datetime | None) -> set[str]:
    """The months of `keys` that can hold data: from the month of `data_from` (the first
    complaint on record) to the month of `now`, either end open when None."""
    first = _month_key(data_from, tz) if data_from is not None else ""
    last = _month_key(now, tz) if now is not None else "9999-99"
    return {k for k in keys if first <= k <= last}


def monthly_counts(
    records: Iterable[ComplaintRecord],
    *,
    end_month: tuple[int, int],
    months: int = 12,
    tz: tzinfo,
    data_from: datetime | None = None,
    now: datetime | None = None,
) -> list[tuple[str, int | None]]:
    """Valid complaints per company-local received month: ('YYYY-MM', count) for the `months`
    months ending with `end_month` (year, month), oldest first. A month without complaints is
    0; a month before the month of `data_from` (the first complaint on record) or after the
    month of `now` has no data and is None (a gap in the chart, not a zero)."""
    keys = _month_range(end_month, months)
    counts = Counter(_month_key(r.received_at, tz) for r in _valid(records))
    known = _with_data(keys, tz, data_from, now)
    return [(k, counts.get(k, 0) if k in known else None) for k in keys]


def monthly_medians(
    records: Iterable[ComplaintRecord],
    *,
    end_month: tuple[int, int],
    months: int = 12,
    cal: WorkCalendar,
) -> list[tuple[str, float | None]]:
    """Median working days from receipt to closing per company-local received month (valid
    complaints closed so far), ('YYYY-MM', days or None), oldest first: None for a month
    with no complaint closed (a median of nothing is no data, not 0 days)."""
    keys = _month_range(end_month, months)
    per: dict[str, list[ComplaintRecord]] = {k: [] for k in keys}
    for r in _valid(records):
        bucket = per.get(_month_key(r.received_at, cal.tz))
        if bucket is not None:
            bucket.append(r)
    return [(k, median_days_to_close(per[k], cal)) for k in keys]


def pareto(
    records: Iterable[ComplaintRecord], *, key: Callable[[ComplaintRecord], str]
) -> list[tuple[str, int, float]]:
    """Valid complaints by `key`: (label, count, cumulative % to 1 decimal), most first, ties by
    label; an empty label counts as 'Belum terklasifikasi'."""
    counts = Counter((key(r).strip() or UNCLASSIFIED) for r in _valid(records))
    total = sum(counts.values())
    out = []
    running = 0
    for label, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        running += count
        out.append((label, count, round(100 * running / total, 1)))
    return out


def pareto_top(rows: list[tuple[str, int, float]], n: int = 8,
               other: str = "Lainnya") -> list[tuple[str, int, float]]:
    """A Pareto list cut to `n` bars for a chart: the first n - 1 rows and `other` with the
    rest's count (cumulative 100 %); unchanged when it has n rows or fewer."""
    if len(rows) <= n:
        return list(rows)
    rest = sum(count for _, count, _ in rows[n - 1:])
    return [*rows[: n - 1], (other, rest, 100.0)]


def closed_on_target(
    records: Iterable[ComplaintRecord], cal: WorkCalendar
) -> tuple[int, int, float | None]:
    """(closed on target, closed with a target, % to 1 decimal or None when none): a valid closed
    complaint is on target when its company-local closing date <= `record.target` (the latest
    action target of the last cycle). Closed ones without a target and open ones are not
    counted."""
    on = counted = 0
    for r in _valid(records):
        target = r.target
        if r.closed_at is None or target is None:
            continue
        counted += 1
        if r.closed_at.astimezone(cal.tz).date() <= target:
            on += 1
    return on, counted, (round(100 * on / counted, 1) if counted else None)


def median_days_to_close(records: Iterable[ComplaintRecord], cal: WorkCalendar) -> float | None:
    """Median working days from receipt to closing over valid closed complaints (1 decimal),
    None when none is closed."""
    days = [
        cal.working_days_between(r.received_at, r.closed_at)
        for r in _valid(records)
        if r.closed_at is not None
    ]
    return _days(statistics.median(days)) if days else None


def _age_bucket(age: float) -> str:
    whole = int(age)  # whole working days elapsed: 2.9 is still '0-2'
    if whole <= 2:
        return "0-2"
    if whole <= 5:
        return "3-5"
    if whole <= 10:
        return "6-10"
    return ">10"


def _open_at(record: ComplaintRecord, moment: datetime) -> bool:
    """Valid, received before `moment` and not closed by then: open now (OPEN_STATUSES), or
    closed after `moment`."""
    if not record.valid or record.received_at >= moment:
        return False
    if record.status in states.OPEN_STATUSES:
        return True
    return record.closed_at is not None and record.closed_at > moment


def open_by_age(
    records: Iterable[ComplaintRecord], *, now: datetime, cal: WorkCalendar
) -> list[tuple[str, int]]:
    """Valid complaints open at `now` (received before it, not closed by then: OPEN_STATUSES
    or closed after it, so a recap of a past month ages what was open at its end) by whole
    working days elapsed from receipt to `now` (fractions dropped: 2.9 days is '0-2', 10.5 is
    '6-10'), in the buckets '0-2', '3-5', '6-10', '>10', all four listed."""
    counts = Counter(
        _age_bucket(cal.working_days_between(r.received_at, now))
        for r in records
        if _open_at(r, now)
    )
    return [(b, counts.get(b, 0)) for b in AGE_BUCKETS]


def month_end(year: int, month: int, tz: tzinfo) -> datetime:
    """The end of a company-local month: the first moment of the next one."""
    year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return datetime(year, month, 1, tzinfo=tz)


# --- lead times per step against the procedure's clocks ----------------------------------------


@dataclass(frozen=True)
class StepTargets:
    """The procedure's clocks in working days (settings `sla.*_working_days`)."""

    first_response: int = 1
    triage: int = 1
    plan: int = 3
    verify: int = 5


@dataclass(frozen=True)
class StepLead:
    """One step of the procedure over a set of complaints, for the management review."""

    key: str  # one of STEP_KEYS
    label: str  # Indonesian, e.g. 'Tanggapan pertama'
    span: str  # what is measured, from -> to
    target: str  # the target as the document prints it: 'maks. 1 hari kerja'
    done: int  # steps finished (measured)
    median: float | None  # their median working days (1 decimal), None when none finished
    on_time: int  # finished steps within their target
    judged: int  # finished steps that had a target
    pct: float | None  # on_time / judged in % (1 decimal), None when none judged
    late_open: int  # steps not finished yet whose target has passed at `now`


STEP_KEYS = ("first_response", "triage", "plan", "implementation", "verification", "closing")
_STEP_TEXT = {
    "first_response": ("Tanggapan pertama", "keluhan diterima \u2192 tanggapan pertama"),
    "triage": ("Penentuan bagian", "keluhan diterima \u2192 PTPP diterbitkan"),
    "plan": ("Analisis & rencana tindakan",
             "PTPP diterbitkan \u2192 analisis & rencana diterima"),
    "implementation": ("Pelaksanaan tindakan",
                       "rencana diterima \u2192 tindakan dilaporkan selesai"),
    "verification": ("Verifikasi efektivitas", "tindakan selesai \u2192 hasil verifikasi"),
    "closing": ("Total sampai ditutup", "keluhan diterima \u2192 PTPP ditutup"),
}
_BY_ACTION_DATE = "tanggal target tindakan"


def step_lead_times(
    records: Iterable[ComplaintRecord],
    *,
    now: datetime,
    cal: WorkCalendar,
    targets: StepTargets = StepTargets(),
) -> list[StepLead]:
    """Lead times per step of valid complaints against the procedure's clocks, in STEP_KEYS
    order. Each step is measured in working days from its start to its end, on every cycle
    for the steps of a PTPP cycle (plan, implementation, verification: a second cycle is a
    second plan), once per complaint for the others. A finished step is on time when it ended
    by its due moment:

    - first response: the recorded `first_response_due_at` (else receipt + sla days);
    - triage (receipt -> first PTPP issued): receipt + `triage` working days;
    - plan: the cycle's recorded `plan_due_at` (else issue + `plan` working days);
    - implementation: the end of the latest action target date of the cycle's plan (none: not
      judged);
    - verification: reported done + `verify` working days;
    - closing: the company-local closing date on or before the complaint's target date, as
      `closed_on_target` (the summary and this table agree).

    A step not finished is left out of the median and the share, and counted in `late_open`
    when the complaint is still waiting for it and its due moment is before `now`."""
    samples: dict[str, list[tuple[float, bool | None]]] = {k: [] for k in STEP_KEYS}
    late = Counter[str]()

    def step(key: str, start: datetime | None, end: datetime | None, due: datetime | None,
             waiting: bool) -> None:
        if start is None:
            return
        if end is not None:
            samples[key].append((cal.working_days_between(start, end),
                                 None if due is None else end <= due))
        elif waiting and due is not None and now > due:
            late[key] += 1

    for r in _valid(records):
        is_open = r.status in states.OPEN_STATUSES
        status = r.status
        step("first_response", r.received_at, r.first_response_at,
             r.first_response_due_at or cal.add_working_days(r.received_at,
                                                             targets.first_response),
             is_open)
        first = r.cycles[0] if r.cycles else None
        step("triage", r.received_at, first.issued_at if first else None,
             triage_due(r.received_at, cal, targets.triage),
             status in (states.TRIAGE, states.ASSIGNED))
        for c in r.cycles:
            current = c is r.cycles[-1]
            if c.issued_at is not None:
                step("plan", c.issued_at, c.planned_at,
                     c.plan_due_at or cal.add_working_days(c.issued_at, targets.plan),
                     current and status == states.ISSUED)
            dated = [a.target for a in c.actions if a.target]
            step("implementation", c.planned_at, c.implemented_at,
                 due_date_end(max(dated), cal) if dated else None,
                 current and status == states.PLANNED)
            if c.implemented_at is not None:
                step("verification", c.implemented_at, c.verified_at,
                     verify_due(c.implemented_at, cal, targets.verify),
                     current and status == states.IMPLEMENTED)
        target = r.target
        if r.closed_at is not None:
            on_time = None if target is None else \
                r.closed_at.astimezone(cal.tz).date() <= target
            samples["closing"].append((cal.working_days_between(r.received_at, r.closed_at),
                                       on_time))
        elif is_open and target is not None and now > due_date_end(target, cal):
            late["closing"] += 1

    days_target = {"first_response": targets.first_response, "triage": targets.triage,
                   "plan": targets.plan, "verification": targets.verify}
    out = []
    for key in STEP_KEYS:
        rows = samples[key]
        judged = [ok for _, ok in rows if ok is not None]
        on_time = sum(judged)
        label, span = _STEP_TEXT[key]
        target = f"maks. {days_target[key]} hari kerja" if key in days_target \
            else _BY_ACTION_DATE
        out.append(StepLead(
            key=key, label=label, span=span, target=target, done=len(rows),
            median=_days(statistics.median(d for d, _ in rows)) if rows else None,
            on_time=on_time, judged=len(judged),
            pct=round(100 * on_time / len(judged), 1) if judged else None,
            late_open=late[key]))
    return out


# --- repeat complaints -------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatItem:
    """A complaint that repeats an earlier one (complaint.repeat_of, set at intake)."""

    number: str
    received: date  # company-local
    customer: str
    product: str
    batch: str
    category: str
    repeat_of: str  # the earlier complaint's number
    status: str  # Indonesian status label


def repeat_complaints(records: Iterable[ComplaintRecord], cal: WorkCalendar) -> list[RepeatItem]:
    """The valid complaints marked as repeats, oldest first (then by number)."""
    return [
        RepeatItem(r.number, r.received_at.astimezone(cal.tz).date(), r.customer, r.product,
                   r.batch, r.category or UNCLASSIFIED, r.repeat_of,
                   states.LABELS_ID.get(r.status, r.status))
        for r in sorted(_valid(records), key=lambda r: (r.received_at, r.number))
        if r.repeat_of
    ]


@dataclass(frozen=True)
class RecapFigures:
    """The Rekapitulasi Keluhan Pelanggan of one month."""

    month: str  # 'YYYY-MM'
    total: int  # received in the month, rejected included
    valid: int
    closed: int  # of the month's valid complaints, closed as of `now`
    open: int  # of the month's valid complaints, open as of `now`
    by_category: list[tuple[str, int, float]]
    by_severity: tuple[int, int, int]  # valid complaints of the month: Mayor, Minor, Observasi
    satisfaction: Summary  # the ratings the month's complaints got after closing
    # 12 months ending with `month`: None for a month without data (see the module rules)
    per_month: list[tuple[str, int | None]]
    on_target: tuple[int, int, float | None]
    median_close_days: float | None
    # The management review (ISO 9001 9.3) of the month's valid complaints:
    by_product: list[tuple[str, int, float]]
    by_customer: list[tuple[str, int, float]]
    per_month_median: list[tuple[str, float | None]]  # the same 12 months, closed ones
    open_at: datetime  # the month's end, or `now` when that is earlier
    open_by_age: list[tuple[str, int]]  # every complaint open at `open_at`, any month
    repeats: list[RepeatItem]
    steps: list[StepLead]


def recap(
    records: Iterable[ComplaintRecord],
    *,
    year: int,
    month: int,
    now: datetime,
    cal: WorkCalendar,
    targets: StepTargets = StepTargets(),
    data_from: datetime | None = None,
) -> RecapFigures:
    """The month's figures. Counts, Pareto, on-target, median, repeats and lead times per
    step: complaints received in the company-local month (steps as far as they got by `now`).
    `per_month` / `per_month_median`: the 12 months ending with it (records after it are
    ignored); months before the month of `data_from` (the first complaint on record; None:
    the earliest of `records`) or after `now`'s are gaps (None). `open_by_age`: every record
    open at the month's end (or at `now`, when earlier), whenever received - pass the older
    open ones too. Open/closed are the records' statuses as loaded."""
    all_records = list(records)
    key = f"{year:04d}-{month:02d}"
    in_month = [r for r in all_records if _month_key(r.received_at, cal.tz) == key]
    valid = _valid(in_month)
    if data_from is None and all_records:
        data_from = min(r.received_at for r in all_records)
    open_at = min(month_end(year, month, cal.tz), now)
    return RecapFigures(
        month=key,
        total=len(in_month),
        valid=len(valid),
        closed=sum(1 for r in valid if r.status == states.CLOSED),
        open=sum(1 for r in valid if r.status in states.OPEN_STATUSES),
        by_category=pareto(valid, key=lambda r: r.category),
        by_severity=(sum(r.severity == Severity.MAYOR for r in valid),
                     sum(r.severity == Severity.MINOR for r in valid),
                     sum(r.severity == Severity.OBSERVASI for r in valid)),
        satisfaction=summarise(r.satisfaction for r in valid),
        per_month=monthly_counts(all_records, end_month=(year, month), tz=cal.tz,
                                 data_from=data_from, now=now),
        on_target=closed_on_target(valid, cal),
        median_close_days=median_days_to_close(valid, cal),
        by_product=pareto(valid, key=lambda r: r.product),
        by_customer=pareto(valid, key=lambda r: r.customer),
        per_month_median=monthly_medians(all_records, end_month=(year, month), cal=cal),
        open_at=open_at,
        open_by_age=open_by_age(all_records, now=open_at, cal=cal),
        repeats=repeat_complaints(valid, cal),
        steps=step_lead_times(valid, now=now, cal=cal, targets=targets),
    )


# --- the status digest -------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestItem:
    number: str
    customer: str
    department: str
    status_label: str
    what: str  # Indonesian: what is owed, or when it was closed
    due: datetime | None  # UTC; None for closed items
    days_late: float  # working days (1 decimal); 0.0 when not late


@dataclass(frozen=True)
class Digest:
    open_by_step: list[tuple[str, int]]  # (status label, count), state-machine order, zeros too
    overdue: list[DigestItem]  # most late first
    due_soon: list[DigestItem]  # soonest first
    closed_since: list[DigestItem]  # oldest closing first


def _owed(record: ComplaintRecord, cal: WorkCalendar,
          targets: StepTargets) -> list[tuple[str, datetime]]:
    """What an open complaint owes, as the monitoring job sees it: the first response while none
    is recorded; the choice of department while in triage (`triage_due`); the analysis & plan
    while issued (current cycle's plan_due_at); each dated action of the current cycle while
    planned (the end of its target day, `due_date_end`); the effectiveness check once the
    actions are reported done (`verify_due`)."""
    out: list[tuple[str, datetime]] = []
    if record.first_response_at is None and record.first_response_due_at is not None:
        out.append(("Tanggapan pertama ke pelanggan", record.first_response_due_at))
    if record.status == states.TRIAGE:
        out.append(("Penentuan bagian (Administrasi Marketing)",
                    triage_due(record.received_at, cal, targets.triage)))
    cycle = record.current
    if cycle is None:
        return out
    if record.status == states.IMPLEMENTED and cycle.implemented_at is not None:
        out.append(("Evaluasi efektivitas (Administrasi Marketing)",
                    verify_due(cycle.implemented_at, cal, targets.verify)))
    if record.status == states.ISSUED and cycle.plan_due_at is not None:
        out.append(("Analisis akar penyebab & rencana tindakan", cycle.plan_due_at))
    if record.status == states.PLANNED:
        for a in cycle.actions:
            if a.target is None:
                continue
            what = _shorten(a.corrective or a.cause or "", 80)
            label = f"Tindakan {a.no}" + (f' "{what}"' if what else "")
            out.append((f"{label} (PIC {a.pic or '-'})", due_date_end(a.target, cal)))
    return out


def digest(
    records: Iterable[ComplaintRecord],
    *,
    now: datetime,
    since: datetime | None,
    cal: WorkCalendar,
    targets: StepTargets | None = None,
) -> Digest:
    """The status digest at `now`.

    - open_by_step: open complaints per status, every open status in state-machine order.
    - overdue: owed items (see `_owed`; marketing administration's own steps timed by
      `targets`, the settings' clocks) with due < now, most late first (working days late).
    - due_soon: owed items with now <= due <= the end of working hours of the 2nd next working
      day after `now`'s local date (Mon 10:00 -> up to Wed 17:00), soonest first.
    - closed_since: valid complaints closed after `since`; when `since` is None (no previous
      digest) the last working day is used: since = now - 1 working day of working time
      (Mon 08:00 -> Fri 08:00), never "all closed ever".
    """
    all_records = list(records)
    open_records = [r for r in all_records if r.valid and r.status in states.OPEN_STATUSES]
    per_status = Counter(r.status for r in open_records)
    open_by_step = [
        (states.LABELS_ID[s], per_status.get(s, 0))
        for s in states.STATUSES
        if s in states.OPEN_STATUSES
    ]

    day = now.astimezone(cal.tz).date()
    horizon_day = cal.next_working_day(cal.next_working_day(day))
    horizon = due_date_end(horizon_day, cal)

    late: list[tuple[float, DigestItem]] = []
    soon: list[DigestItem] = []
    for r in open_records:
        label = states.LABELS_ID.get(r.status, r.status)
        for what, due in _owed(r, cal, targets or StepTargets()):
            if due < now:
                raw = overdue_by(due, now, cal)
                late.append(
                    (
                        raw,
                        DigestItem(
                            r.number, r.customer, r.department, label, what, due, _days(raw)
                        ),
                    )
                )
            elif due <= horizon:
                soon.append(DigestItem(r.number, r.customer, r.department, label, what, due, 0.0))
    late.sort(key=lambda t: (-t[0], t[1].due, t[1].number))
    soon.sort(key=lambda i: (i.due, i.number))

    start = since if since is not None else cal.add_working_days(now, -1)
    closed = sorted(
        (r for r in all_records if r.valid and r.closed_at is not None and r.closed_at > start),
        key=lambda r: (r.closed_at, r.number),
    )
    closed_items = [
        DigestItem(
            r.number,
            r.customer,
            r.department,
            states.LABELS_ID.get(r.status, r.status),
            f"Ditutup {r.closed_at.astimezone(cal.tz):%d/%m/%Y %H:%M}",
            None,
            0.0,
        )
        for r in closed
        if r.closed_at is not None
    ]
    return Digest(
        open_by_step=open_by_step,
        overdue=[i for _, i in late],
        due_soon=soon,
        closed_since=closed_items,
    )
