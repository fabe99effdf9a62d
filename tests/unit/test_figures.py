"""Figures (mailproc.domain.figures) on a hand-built fixture set with hand-computed values.

The calendar: WIB, Mon-Fri 08:00-17:00 (1 working day = 9 h), days off Tue 2026-10-20 and
Mon 2026-11-02 (no holidays package). 2026-10-31 is a Saturday, 2026-11-01 a Sunday.

    September 2026        October 2026          November 2026
    Mo Tu We Th Fr        Mo Tu We Th Fr        Mo Tu We Th Fr
                          .  .  .  1  2         [2] 3  4  5  6
    21 22 23 24 25        5  6  7  8  9         9  10 11 12 13
    28 29 30              12 13 14 15 16        16 ...
                          19 [20] 21 22 23
                          26 27 28 29 30

"Now" for the recap and the digest: Wed 2026-11-11 10:00 WIB.

The records (R = number's sequence; times WIB):
  R1 Fri 09-25 10:00  PT Sinar Jaya  Kemasan rusak   Gudang   closed Wed 10-07 10:00, no target
  R2 Thu 10-01 08:00  UD Berkah      Kualitas        QC       implemented (open)
  R3 Mon 10-05 09:00  PT Sinar Jaya  Kualitas        QC       closed Tue 10-13 15:00, target 10-14
  R4 Thu 10-15 14:00  CV Makmur      Keterlambatan   Logistik closed Tue 11-03 11:00, target 10-30,
                                                              2 cycles (first not effective)
  R5 Wed 10-21 10:00  (spam)         -               -        rejected
  R6 Mon 10-26 13:00  UD Berkah      Kualitas        QC       closed Tue 11-10 15:00, target 11-06
  R7 Sat 10-31 23:30  PT Sinar Jaya  Kualitas        QC       planned (open)   = 16:30 UTC, October
  R8 Sun 11-01 02:00  CV Makmur      Keterlambatan   Logistik issued (open)    = 10-31 19:00 UTC,
                                                                                 November
  R9 Mon 11-09 08:30  pt  sinar jaya (unclassified)  -        triage (open)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from mailproc.domain import states
from mailproc.domain.calendar import WIB, WorkCalendar
from mailproc.domain.figures import (
    REGISTER_COLUMNS,
    Digest,
    DigestItem,
    LeadTimes,
    StepTargets,
    closed_on_target,
    digest,
    lead_times,
    median_days_to_close,
    monthly_counts,
    open_by_age,
    pareto,
    recap,
    register_rows,
)
from mailproc.domain.forms import Action
from mailproc.domain.records import ComplaintRecord, CycleRecord

CAL = WorkCalendar(
    days_off={date(2026, 10, 20): "Libur perusahaan", date(2026, 11, 2): "Cuti bersama"}
)
NOW = datetime(2026, 11, 11, 10, 0, tzinfo=WIB)

KUALITAS = "Kualitas / cacat produk"
TELAT = "Keterlambatan pengiriman"
KEMASAN = "Kemasan rusak"


def wib(m: int, d: int, hh: int = 0, mm: int = 0, y: int = 2026) -> datetime:
    """A WIB wall time, stored as records store it: UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=WIB).astimezone(UTC)


def action(no: int, pic: str, target: date | None, corrective: str = "") -> Action:
    return Action(
        no=no,
        cause="",
        corrective=corrective or f"tindakan {no}",
        preventive="",
        pic=pic,
        target=target,
    )


def cycle(
    n: int,
    department: str,
    *,
    issued: datetime | None = None,
    plan_due: datetime | None = None,
    planned: datetime | None = None,
    implemented: datetime | None = None,
    actions: tuple[Action, ...] = (),
    result: str = "",
    closed: datetime | None = None,
) -> CycleRecord:
    return CycleRecord(
        cycle=n,
        department=department,
        issued_at=issued,
        plan_due_at=plan_due,
        planned_at=planned,
        implemented_at=implemented,
        correction="",
        whys=(),
        category_6m="",
        root_cause="",
        actions=actions,
        completion_date=None,
        completion_evidence="",
        verification_result=result,
        verification_note="",
        verifier="",
        verified_at=closed,
        closed_at=closed,
    )


def complaint(
    seq: int,
    month_roman: str,
    received: datetime,
    *,
    customer: str,
    category: str,
    product: str,
    department: str,
    status: str,
    channel: str = "email",
    description: str = "Keluhan.",
    first_response: datetime | None = None,
    first_response_due: datetime | None = None,
    closed: datetime | None = None,
    cycles: tuple[CycleRecord, ...] = (),
    valid: bool = True,
    return_requested: bool = False,
    return_claim: str = "",
    remarks: str = "",
    batch: str = "",
    quantity: str = "",
) -> ComplaintRecord:
    return ComplaintRecord(
        number=f"{seq:03d}/PTPP/MKT/{month_roman}/2026",
        year=2026,
        seq=seq,
        received_at=received,
        channel=channel,
        customer=customer,
        customer_email="",
        subject="",
        description=description,
        product=product,
        batch=batch,
        quantity=quantity,
        category=category,
        department=department,
        status=status,
        valid=valid,
        first_response_at=first_response,
        first_response_due_at=first_response_due,
        closed_at=closed,
        return_requested=return_requested,
        return_claim=return_claim,
        remarks=remarks,
        cycles=cycles,
    )


LONG = "Tutup botol tidak rapat.\n\n" + "Kebocoran terjadi selama pengiriman ke gudang. " * 12

R1 = complaint(
    1,
    "IX",
    wib(9, 25, 10),
    customer="PT Sinar Jaya",
    category=KEMASAN,
    product="Botol 600ml",
    department="Gudang",
    status=states.CLOSED,
    first_response=wib(9, 25, 11),
    closed=wib(10, 7, 10),
    cycles=(
        cycle(
            1,
            "Gudang",
            issued=wib(9, 25, 13),
            planned=wib(9, 28, 13),
            actions=(action(1, "Joko", None),),
            result="effective",
            closed=wib(10, 7, 10),
        ),
    ),
)
R2 = complaint(
    2,
    "X",
    wib(10, 1, 8),
    customer="UD Berkah",
    category=KUALITAS,
    product="Tutup botol",
    department="QC",
    status=states.IMPLEMENTED,
    description=LONG,
    first_response=wib(10, 1, 16),
    cycles=(
        cycle(
            1,
            "QC",
            issued=wib(10, 2, 9),
            planned=wib(10, 6, 9),
            implemented=wib(10, 9, 15),
            actions=(action(1, "Sari", date(2026, 10, 9)),),
        ),
    ),
)
R3 = complaint(
    3,
    "X",
    wib(10, 5, 9),
    customer="PT Sinar Jaya",
    category=KUALITAS,
    product="Botol 600ml",
    department="QC",
    status=states.CLOSED,
    description="Botol retak\n di bagian leher.",
    batch="B2610-01",
    quantity="120 pcs",
    first_response=wib(10, 5, 15),
    closed=wib(10, 13, 15),
    return_requested=True,
    return_claim="RK-2026-001",
    cycles=(
        cycle(
            1,
            "QC",
            issued=wib(10, 5, 16),
            planned=wib(10, 7, 12),
            actions=(
                action(1, "Budi", date(2026, 10, 9)),
                action(2, "Sari", date(2026, 10, 14)),
                action(3, "Budi", date(2026, 10, 12)),
            ),
            result="effective",
            closed=wib(10, 13, 15),
        ),
    ),
)
R4 = complaint(
    4,
    "X",
    wib(10, 15, 14),
    customer="CV Makmur",
    category=TELAT,
    product="Galon 19L",
    department="Logistik",
    status=states.CLOSED,
    channel="telepon",
    first_response=wib(10, 16, 9),
    closed=wib(11, 3, 11),
    return_requested=True,
    cycles=(
        cycle(
            1,
            "Logistik",
            issued=wib(10, 16, 10),
            planned=wib(10, 19, 10),
            actions=(action(1, "Dewi", date(2026, 10, 21)),),
            result="not_effective",
        ),
        cycle(
            2,
            "Logistik",
            issued=wib(10, 23, 9),
            planned=wib(10, 26, 9),
            actions=(action(1, "Andi", date(2026, 10, 30)),),
            result="effective",
            closed=wib(11, 3, 11),
        ),
    ),
)
R5 = complaint(
    5,
    "X",
    wib(10, 21, 10),
    customer="iklan@promo.example",
    category="",
    product="",
    department="",
    status=states.REJECTED,
    valid=False,
    first_response_due=wib(10, 22, 10),
    remarks="Bukan keluhan: penawaran iklan",
)
R6 = complaint(
    6,
    "X",
    wib(10, 26, 13),
    customer="UD Berkah",
    category=KUALITAS,
    product="Tutup botol",
    department="QC",
    status=states.CLOSED,
    first_response=wib(10, 26, 14),
    closed=wib(11, 10, 15),
    cycles=(
        cycle(
            1,
            "QC",
            issued=wib(10, 27, 9),
            planned=wib(10, 29, 9),
            actions=(action(1, "Sari", date(2026, 11, 6)),),
            result="effective",
            closed=wib(11, 10, 15),
        ),
    ),
)
R7 = complaint(
    7,
    "X",
    wib(10, 31, 23, 30),
    customer="PT Sinar Jaya",
    category=KUALITAS,
    product="Galon 19L",
    department="QC",
    status=states.PLANNED,
    channel="whatsapp",
    first_response=wib(11, 3, 9),
    first_response_due=wib(11, 3, 17),
    cycles=(
        cycle(
            1,
            "QC",
            issued=wib(11, 3, 10),
            plan_due=wib(11, 5, 10),
            planned=wib(11, 4, 16),
            actions=(
                action(1, "Budi", date(2026, 11, 9), "Ganti seal mesin filling"),
                action(2, "Rina", date(2026, 11, 14), "Kalibrasi torsi"),  # Sat
                action(3, "Rina", None, "Pelatihan operator"),
                action(4, "Budi", date(2026, 11, 12), "Cek batch lain"),
                action(5, "Budi", date(2026, 11, 16), "Revisi SOP"),
            ),
        ),
    ),
)
R8 = complaint(
    8,
    "XI",
    wib(11, 1, 2),
    customer="CV Makmur",
    category=TELAT,
    product="Botol 600ml",
    department="Logistik",
    status=states.ISSUED,
    first_response_due=wib(11, 3, 17),
    cycles=(cycle(1, "Logistik", issued=wib(11, 3, 9), plan_due=wib(11, 5, 9)),),
)
R9 = complaint(
    9,
    "XI",
    wib(11, 9, 8, 30),
    customer="pt  sinar jaya",
    category="",
    product="Galon 19L",
    department="",
    status=states.TRIAGE,
    channel="langsung",
    first_response=wib(11, 9, 9),
    first_response_due=wib(11, 10, 8, 30),
)

ALL = [R1, R2, R3, R4, R5, R6, R7, R8, R9]
OCTOBER = [R2, R3, R4, R5, R6, R7]


def test_fixture_month_boundaries_are_what_the_docstring_says() -> None:
    # R7: Sat 31 Oct 23:30 WIB is 16:30 UTC the same day; R8: Sun 1 Nov 02:00 WIB is 31 Oct
    # 19:00 UTC - October in UTC, November for the company.
    assert R7.received_at == datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    assert R8.received_at == datetime(2026, 10, 31, 19, 0, tzinfo=UTC)
    assert R3.target == date(2026, 10, 14)  # max(10-09, 10-14, 10-12)
    assert R4.target == date(2026, 10, 30)  # current (2nd) cycle only
    assert R1.target is None


# --- register ----------------------------------------------------------------------------------


def test_register_columns() -> None:
    assert len(REGISTER_COLUMNS) == 19
    assert REGISTER_COLUMNS[0] == "No" and REGISTER_COLUMNS[-1] == "Keterangan"
    assert REGISTER_COLUMNS[15] == "Lama penyelesaian (hari kerja)"


def test_register_order_and_numbering() -> None:
    rows = register_rows(reversed(ALL), CAL)  # input order does not matter
    assert [r.values[0] for r in rows] == list(range(1, 10))
    assert [r.values[1][:3] for r in rows] == [f"{i:03d}" for i in range(1, 10)]
    assert all(len(r.values) == len(REGISTER_COLUMNS) for r in rows)


def test_register_row_closed_with_return_claim() -> None:
    row = register_rows(ALL, CAL)[2]  # R3
    # Lama penyelesaian, Mon 10-05 09:00 -> Tue 10-13 15:00:
    #   Mon 09-17 8 h + Tue 6 .. Fri 9 (4 x 9 h) + Mon 12 9 h + Tue 13 08-15 7 h
    #   = 8 + 36 + 9 + 7 = 60 h = 6.67 days -> 6.7
    assert row.values == (
        3,
        "003/PTPP/MKT/X/2026",
        date(2026, 10, 5),
        "PT Sinar Jaya",
        "email",
        "Botol 600ml",
        "B2610-01",
        "120 pcs",
        f"{KUALITAS} (Minor)",
        "Botol retak di bagian leher.",
        "Y",
        "QC / Budi, Sari",  # PICs distinct, in action order
        date(2026, 10, 5),
        date(2026, 10, 14),
        date(2026, 10, 13),
        6.7,
        "Ditutup (efektif)",
        "Y, RK-2026-001",
        "",
    )
    assert row.display() == (
        "3",
        "003/PTPP/MKT/X/2026",
        "05/10/2026",
        "PT Sinar Jaya",
        "email",
        "Botol 600ml",
        "B2610-01",
        "120 pcs",
        f"{KUALITAS} (Minor)",
        "Botol retak di bagian leher.",
        "Y",
        "QC / Budi, Sari",
        "05/10/2026",
        "14/10/2026",
        "13/10/2026",
        "6.7",
        "Ditutup (efektif)",
        "Y, RK-2026-001",
        "",
    )


def test_register_row_two_cycles_return_without_claim() -> None:
    v = register_rows(ALL, CAL)[3].values  # R4
    assert v[11] == "Logistik / Andi"  # the current (2nd) cycle's PIC, not Dewi of cycle 1
    assert v[13] == date(2026, 10, 30)
    # Thu 10-15 14:00 -> Tue 11-03 11:00: Thu 3 h + Fri 16 9 + Mon 19 9 + (Tue 20 off)
    #   + Wed 21 .. Fri 23 27 + Mon 26 .. Fri 30 45 + (Mon 11-02 off) + Tue 11-03 08-11 3
    #   = 96 h = 10.67 -> 10.7
    assert v[15] == 10.7
    # a return asked for, its form not back yet: the number the form went out with
    assert v[17] == "Y, KR-004/PTPP/MKT/X/2026"
    assert v[4] == "telepon"


def test_register_names_the_new_ptpps_of_a_complaint_in_keterangan() -> None:
    """Issue #13 item 2: each not-effective cycle's new PTPP ("No. PTPP baru")."""
    r4 = replace(ALL[3], new_ptpps=((2, "011/PTPP/MKT/X/2026"),), remarks="")
    v = register_rows([r4], CAL)[0].values
    assert v[1] == r4.number  # the complaint keeps its first number
    assert v[18] == "PTPP baru (siklus 2): 011/PTPP/MKT/X/2026"
    both = replace(r4, remarks="Dialihkan", new_ptpps=((2, "a"), (3, "b")))
    assert register_rows([both], CAL)[0].values[18] == (
        "Dialihkan; PTPP baru (siklus 2): a; PTPP baru (siklus 3): b")


def test_register_row_rejected_and_open() -> None:
    rows = register_rows(ALL, CAL)
    r5 = rows[4].values
    assert r5[10] == "T" and r5[16] == "Ditolak (bukan keluhan)"
    assert r5[18] == "Bukan keluhan: penawaran iklan"
    assert r5[11] == "" and r5[12] is None and r5[14] is None and r5[15] is None
    assert r5[17] == "T"
    assert rows[4].display()[12:16] == ("", "", "", "")
    r7 = rows[6].values
    assert r7[2] == date(2026, 10, 31)
    assert r7[11] == "QC / Budi, Rina"
    assert r7[13] == date(2026, 11, 16)  # latest action target
    assert r7[14] is None and r7[15] is None
    assert r7[16] == "Analisis & rencana diterima"
    r8 = rows[7].values
    assert r8[2] == date(2026, 11, 1)  # local date, although 31 Oct in UTC
    assert r8[12] is None  # no first response yet
    assert rows[8].values[11] == ""  # triage: no department, no cycle


def test_register_description_one_line_shortened() -> None:
    text = register_rows(ALL, CAL)[1].values[9]  # R2
    collapsed = " ".join(LONG.split())
    assert "\n" not in text and len(text) <= 300 and text.endswith("…")
    assert text.startswith("Tutup botol tidak rapat. Kebocoran terjadi")
    stem = text[:-1]
    assert collapsed.startswith(stem) and collapsed[len(stem)] == " "  # cut at a word boundary


def test_display_formats() -> None:
    from mailproc.domain.figures import RegisterRow

    assert RegisterRow((1, None, date(2026, 1, 2), 2.5, 3.0, "x")).display() == (
        "1",
        "",
        "02/01/2026",
        "2.5",
        "3.0",
        "x",
    )


# --- lead times --------------------------------------------------------------------------------


def test_lead_times_closed() -> None:
    # R3: first response Mon 09:00 -> 15:00 = 6 h = 0.67 -> 0.7
    #     analysis issued Mon 16:00 -> planned Wed 12:00 = 1 + 9 + 4 = 14 h = 1.56 -> 1.6
    #     closing 60 h -> 6.7 (see the register test)
    assert lead_times(R3, CAL) == LeadTimes(first_response=0.7, analysis=1.6, closing=6.7)


def test_lead_times_analysis_is_the_first_cycle() -> None:
    # R4: first response Thu 14:00 -> Fri 09:00 = 3 + 1 = 4 h = 0.44 -> 0.4
    #     analysis (cycle 1) Fri 10-16 10:00 -> Mon 10-19 10:00 = 7 + 2 = 9 h = 1.0
    #     (cycle 2's plan on Mon 10-26 is not used)
    assert lead_times(R4, CAL) == LeadTimes(first_response=0.4, analysis=1.0, closing=10.7)


def test_lead_times_open_and_missing() -> None:
    # R7: Sat 23:30 -> Tue 11-03 09:00 (Mon 11-02 off) = 1 h = 0.1;
    #     issued Tue 10:00 -> planned Wed 16:00 = 7 + 8 = 15 h = 1.67 -> 1.7; not closed
    assert lead_times(R7, CAL) == LeadTimes(first_response=0.1, analysis=1.7, closing=None)
    # R8: no first response, plan not received
    assert lead_times(R8, CAL) == LeadTimes(None, None, None)
    # R9: 08:30 -> 09:00 = 0.5 h = 0.06 -> 0.1; no cycle
    assert lead_times(R9, CAL) == LeadTimes(0.1, None, None)


# --- monthly counts, Pareto --------------------------------------------------------------------


def test_monthly_counts_local_months() -> None:
    # valid only (R5 out). WIB: Sep R1; Oct R2 R3 R4 R6 R7; Nov R8 R9.
    assert monthly_counts(ALL, end_month=(2026, 11), months=3, tz=WIB) == [
        ("2026-09", 1),
        ("2026-10", 5),
        ("2026-11", 2),
    ]
    # In UTC R8 (31 Oct 19:00 UTC) would move to October: shows the zone matters.
    assert monthly_counts(ALL, end_month=(2026, 11), months=3, tz=UTC) == [
        ("2026-09", 1),
        ("2026-10", 6),
        ("2026-11", 1),
    ]


def test_monthly_counts_twelve_months_across_a_year() -> None:
    counts = monthly_counts(ALL, end_month=(2026, 2), tz=WIB)
    assert [k for k, _ in counts] == [
        "2025-03",
        "2025-04",
        "2025-05",
        "2025-06",
        "2025-07",
        "2025-08",
        "2025-09",
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert all(n == 0 for _, n in counts)


def test_pareto_by_category_with_unclassified() -> None:
    # valid: Kualitas R2 R3 R6 R7 = 4; Keterlambatan R4 R8 = 2; '' R9 = 1; Kemasan R1 = 1
    # (R5 rejected, also '', is not counted). Total 8. Ties at 1 by label: B < K.
    # cumulative: 4/8 = 50.0, 6/8 = 75.0, 7/8 = 87.5, 8/8 = 100.0
    assert pareto(ALL, key=lambda r: r.category) == [
        (KUALITAS, 4, 50.0),
        (TELAT, 2, 75.0),
        ("Belum terklasifikasi", 1, 87.5),
        (KEMASAN, 1, 100.0),
    ]


def test_pareto_empty() -> None:
    assert pareto([], key=lambda r: r.category) == []
    assert pareto([R5], key=lambda r: r.category) == []


# --- on target, median, age, repeats -----------------------------------------------------------


def test_closed_on_target() -> None:
    # R1 closed without target: not counted. R3 closed 10-13 <= 10-14: on target.
    # R4 closed 11-03 > 10-30 and R6 closed 11-10 > 11-06: late. Open ones not counted.
    # 1 / 3 = 33.3 %
    assert closed_on_target(ALL, CAL) == (1, 3, 33.3)
    assert closed_on_target([R1, R2, R7], CAL) == (0, 0, None)


def test_closed_on_target_compares_local_dates() -> None:
    # Closed Wed 10-14 23:00 WIB = 16:00 UTC: local date 10-14 = the target -> on target.
    late_evening = replace(R3, closed_at=wib(10, 14, 23))
    assert closed_on_target([late_evening], CAL) == (1, 1, 100.0)
    # Closed Thu 10-15 01:00 WIB = Wed 10-14 18:00 UTC: local date 10-15 -> late.
    after_midnight = replace(R3, closed_at=wib(10, 15, 1))
    assert closed_on_target([after_midnight], CAL) == (0, 1, 0.0)


def test_median_days_to_close() -> None:
    # R1 Fri 09-25 10:00 -> Wed 10-07 10:00: Fri 7 + Mon-Wed 27 + Thu-Fri 18 + Mon-Tue 18
    #    + Wed 2 = 72 h = 8.0
    # R3 60 h = 6.67; R4 96 h = 10.67
    # R6 Mon 10-26 13:00 -> Tue 11-10 15:00: Mon 4 + Tue-Fri 36 + (11-02 off)
    #    + Tue 11-03 .. Mon 11-09 45 + Tue 7 = 92 h = 10.22
    # all four: (72 + 92) / 2 = 82 h = 9.11 -> 9.1
    assert median_days_to_close(ALL, CAL) == 9.1
    # October's three: 60, 96, 92 -> 92 h = 10.2
    assert median_days_to_close(OCTOBER, CAL) == 10.2
    assert median_days_to_close([R2, R5, R7], CAL) is None
    # a rejected complaint with a closing time would still not count
    assert median_days_to_close([replace(R5, closed_at=wib(10, 21, 11))], CAL) is None


def test_open_by_age() -> None:
    # now Wed 11-11 10:00. Open: R2 R7 R8 R9 (R5 rejected is not open).
    # R2 Thu 10-01 08:00: Oct has 22 weekdays - 10-20 = 21 days, Nov 3..10 = 6 days, + 2 h
    #    = 243 + 2 = 245 h = 27.2 -> '>10'
    # R7 Sat 10-31 23:30, R8 Sun 11-01 02:00: start Tue 11-03 (11-02 off): Tue..Tue 6 days
    #    + Wed 2 h = 56 h = 6.2 -> '6-10'
    # R9 Mon 11-09 08:30: 8.5 + 9 + 2 = 19.5 h = 2.2 -> '0-2'
    assert open_by_age(ALL, now=NOW, cal=CAL) == [("0-2", 1), ("3-5", 0), ("6-10", 2), (">10", 1)]


def test_open_by_age_bucket_edges_use_whole_days() -> None:
    # Fri 11-06 11:00 -> Wed 10:00: 6 + 9 + 9 + 2 = 26 h = 2.89 -> '0-2'
    # Fri 11-06 10:00 -> Wed 10:00: 7 + 9 + 9 + 2 = 27 h = 3.0 -> '3-5'
    a = replace(R9, received_at=wib(11, 6, 11))
    b = replace(R9, received_at=wib(11, 6, 10))
    assert open_by_age([a], now=NOW, cal=CAL)[0] == ("0-2", 1)
    assert open_by_age([b], now=NOW, cal=CAL)[1] == ("3-5", 1)


# --- the recap ---------------------------------------------------------------------------------


def test_recap_october() -> None:
    fig = recap(ALL, year=2026, month=10, now=NOW, cal=CAL)
    assert fig.month == "2026-10"
    # in October (local): R2 R3 R4 R5 R6 R7 -> 6, valid 5; closed R3 R4 R6; open R2 R7
    assert (fig.total, fig.valid, fig.closed, fig.open) == (6, 5, 3, 2)
    # Kualitas R2 R3 R6 R7 = 4 (80 %), Keterlambatan R4 = 1
    assert fig.by_category == [(KUALITAS, 4, 80.0), (TELAT, 1, 100.0)]
    # 2025-11 .. 2026-10: Sep 1 (R1), Oct 5; R8 (October in UTC) stays out. The records
    # begin with R1 in September: the months before it have no data (None), not 0.
    assert fig.per_month[0] == ("2025-11", None)
    assert fig.per_month[-2:] == [("2026-09", 1), ("2026-10", 5)]
    assert len(fig.per_month) == 12 and sum(n or 0 for _, n in fig.per_month) == 6
    assert fig.on_target == (1, 3, 33.3)  # R3 on; R4, R6 late
    assert fig.median_close_days == 10.2  # 60, 92, 96 h -> 92 h
    # the management review's figures: tests/unit/test_recap_review.py


def test_recap_november_and_empty_month() -> None:
    fig = recap(ALL, year=2026, month=11, now=NOW, cal=CAL)
    # R8 (1 Nov 02:00 WIB) and R9; R7 (31 Oct 23:30 WIB) is not November
    assert (fig.total, fig.valid, fig.closed, fig.open) == (2, 2, 0, 2)
    # a tie at 1: by label, "Belum ..." before "Keterlambatan ..."
    assert fig.by_category == [("Belum terklasifikasi", 1, 50.0), (TELAT, 1, 100.0)]
    assert fig.on_target == (0, 0, None) and fig.median_close_days is None
    assert fig.per_month[-3:] == [("2026-09", 1), ("2026-10", 5), ("2026-11", 2)]
    empty = recap(ALL, year=2026, month=6, now=NOW, cal=CAL)
    assert (empty.total, empty.valid, empty.by_category) == (0, 0, [])


# --- the digest --------------------------------------------------------------------------------


def test_digest() -> None:
    d = digest(ALL, now=NOW, since=None, cal=CAL)
    assert isinstance(d, Digest)
    # open: R9 triage, R8 issued, R7 planned, R2 implemented (R5 rejected is not open)
    assert d.open_by_step == [
        ("Menunggu penentuan bagian", 1),
        ("Bagian ditentukan", 0),
        ("PTPP diterbitkan", 1),
        ("Analisis & rencana diterima", 1),
        ("Tindakan selesai, menunggu verifikasi", 1),
    ]
    issued, planned = "PTPP diterbitkan", "Analisis & rencana diterima"
    r8, r7 = R8.number, R7.number
    # R8 first response due Tue 11-03 17:00 -> Wed 4 .. Tue 10 = 45 h + Wed 2 h = 47 h = 5.2
    # R8 plan due Thu 11-05 09:00 -> Thu 8 + Fri 9 + Mon 9 + Tue 9 + Wed 2 = 37 h = 4.1
    # R7 action 1, target Mon 11-09 -> due 17:00 -> Tue 9 + Wed 2 = 11 h = 1.2
    # R2 reported done Fri 10-09 15:00 -> effectiveness check due 5 working days later,
    #   Fri 10-16 15:00 -> Fri 2 + Mon 19 9 + (Tue 20 off) + Wed .. Fri 27 + 26 .. 30 45
    #   + (Mon 11-02 off) + Tue 3 .. Fri 6 36 + Mon 9, Tue 10 18 + Wed 2 = 139 h = 15.4
    # R9 in triage since Mon 11-09 08:30 -> department due Tue 11-10 08:30 -> 8.5 + 2 h = 1.2
    #   (after R7's action 1, late as much but due earlier)
    # R5 (rejected) owes a first response on paper but is not listed.
    implemented = "Tindakan selesai, menunggu verifikasi"
    assert d.overdue == [
        DigestItem(R2.number, "UD Berkah", "QC", implemented,
                   "Evaluasi efektivitas (Administrasi Marketing)", wib(10, 16, 15), 15.4),
        DigestItem(
            r8,
            "CV Makmur",
            "Logistik",
            issued,
            "Tanggapan pertama ke pelanggan",
            wib(11, 3, 17),
            5.2,
        ),
        DigestItem(
            r8,
            "CV Makmur",
            "Logistik",
            issued,
            "Analisis akar penyebab & rencana tindakan",
            wib(11, 5, 9),
            4.1,
        ),
        DigestItem(
            r7,
            "PT Sinar Jaya",
            "QC",
            planned,
            'Tindakan 1 "Ganti seal mesin filling" (PIC Budi)',
            wib(11, 9, 17),
            1.2,
        ),
        DigestItem(R9.number, R9.customer, "", "Menunggu penentuan bagian",
                   "Penentuan bagian (Administrasi Marketing)", wib(11, 10, 8, 30), 1.2),
    ]
    # window: now Wed 11-11 -> next working days Thu 12, Fri 13 -> until Fri 13 17:00.
    # action 4 target Thu 11-12 -> Thu 17:00; action 2 target Sat 11-14 -> Fri 11-13 17:00
    # (the window's very end, included); action 5 Mon 11-16 is later; action 3 has no target.
    assert d.due_soon == [
        DigestItem(
            r7,
            "PT Sinar Jaya",
            "QC",
            planned,
            'Tindakan 4 "Cek batch lain" (PIC Budi)',
            wib(11, 12, 17),
            0.0,
        ),
        DigestItem(
            r7,
            "PT Sinar Jaya",
            "QC",
            planned,
            'Tindakan 2 "Kalibrasi torsi" (PIC Rina)',
            wib(11, 13, 17),
            0.0,
        ),
    ]
    # since None -> 1 working day back from Wed 10:00 = Tue 11-10 10:00; R6 closed Tue 15:00
    assert d.closed_since == [
        DigestItem(
            R6.number, "UD Berkah", "QC", "Ditutup (efektif)", "Ditutup 10/11/2026 15:00", None, 0.0
        )
    ]


def test_digest_times_marketing_steps_by_the_settings_clocks() -> None:
    """sla.triage_working_days / sla.verify_working_days reach the digest (StepTargets)."""
    slow = digest(ALL, now=NOW, since=None, cal=CAL,
                  targets=StepTargets(triage=3, verify=30))
    owed = {i.what: i for i in slow.overdue + slow.due_soon}
    # 3 working days from Mon 11-09 08:30 -> Thu 11-12 08:30: due soon, not late
    assert owed["Penentuan bagian (Administrasi Marketing)"] in slow.due_soon
    assert owed["Penentuan bagian (Administrasi Marketing)"].due == wib(11, 12, 8, 30)
    # 30 working days from Fri 10-09 15:00 is past the window: not listed
    assert "Evaluasi efektivitas (Administrasi Marketing)" not in owed


def test_digest_closed_since() -> None:
    later = digest(ALL, now=NOW, since=wib(11, 10, 16), cal=CAL)
    assert later.closed_since == []
    month = digest(ALL, now=NOW, since=wib(10, 1), cal=CAL)
    # closing order: R1 10-07, R3 10-13, R4 11-03, R6 11-10
    assert [i.number[:3] for i in month.closed_since] == ["001", "003", "004", "006"]
    assert month.closed_since[0].what == "Ditutup 07/10/2026 10:00"


def test_digest_due_soon_from_a_friday_skips_the_weekend_and_day_off() -> None:
    # now Fri 10-30 10:00: next working days Mon 11-02 is off -> Tue 11-03, Wed 11-04;
    # window until Wed 11-04 17:00. R8's first response (due Tue 11-03 17:00) is in it.
    now = wib(10, 30, 10)
    d = digest([R8], now=now, since=None, cal=CAL)
    assert [(i.what, i.due) for i in d.due_soon] == [
        ("Tanggapan pertama ke pelanggan", wib(11, 3, 17))
    ]
    # plan due Thu 11-05 09:00 is after the window
    assert d.overdue == []
    # and exactly at the due moment it is not yet overdue (due < now is overdue)
    at_due = digest([R8], now=wib(11, 3, 17), since=None, cal=CAL)
    assert at_due.overdue == [] and at_due.due_soon[0].due == wib(11, 3, 17)


@pytest.mark.parametrize("status", sorted(states.OPEN_STATUSES))
def test_open_by_step_counts_every_open_status(status: str) -> None:
    d = digest([replace(R9, status=status)], now=NOW, since=None, cal=CAL)
    assert dict(d.open_by_step)[states.LABELS_ID[status]] == 1
    assert sum(n for _, n in d.open_by_step) == 1
