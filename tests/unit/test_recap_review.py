"""The monthly recap as a management-review input (issue #13, item 7): Pareto by category,
product and customer, open complaints by age at the month's end, repeat complaints, lead times
per step against the procedure's clocks, months without data as gaps, the return-claim number
in the register, and the Word recap that shows them (two charts a page, register columns no
narrower than their longest word).

The pure figures run on a hand-built set with hand-computed values. The calendar: WIB,
Mon-Fri 08:00-17:00 (1 working day = 9 h), no days off. "Now" is the injected clock, never
today's date: Tue 2026-11-03 10:00 WIB; the recap is October's, whose end is Sun 2026-11-01
00:00 WIB.

    October 2026                       The records (times WIB)
    Mo Tu We Th Fr                     E Fri 09-25 09:00  open (implemented)
              1  2                     F Mon 09-28 09:00  closed Mon 11-02 09:00
     5  6  7  8  9                     A Mon 10-05 09:00  closed Mon 10-12 10:00, every step done
    12 13 14 15 16                     B Thu 10-08 16:00  issued Tue 10-13 10:00, no plan yet
    19 20 21 22 23                     C Tue 10-20 10:00  in triage, repeats A
    26 27 28 29 30                     D Wed 10-21 11:00  rejected
                                       G Thu 10-29 09:00  assigned, no first response
                                       H Mon 11-02 09:00  in triage (after the month)
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.oxml.ns import qn

from mailproc.domain import states
from mailproc.domain.calendar import WIB, WorkCalendar
from mailproc.domain.figures import (
    UNCLASSIFIED,
    StepTargets,
    claim_number,
    monthly_counts,
    monthly_medians,
    open_by_age,
    pareto,
    pareto_top,
    recap,
    register_rows,
    repeat_complaints,
    step_lead_times,
)
from mailproc.domain.forms import Action
from mailproc.domain.records import CLAIM_WITHOUT_NUMBER, ComplaintRecord, CycleRecord

CAL = WorkCalendar()
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=WIB)
TARGETS = StepTargets(first_response=1, triage=1, plan=3, verify=5)


def wib(m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=WIB).astimezone(UTC)


def cycle(n: int, *, issued: datetime, plan_due: datetime | None = None,
          planned: datetime | None = None, implemented: datetime | None = None,
          verified: datetime | None = None, target: date | None = None,
          result: str = "") -> CycleRecord:
    actions = (Action(no=1, cause="", corrective="Perbaiki", preventive="", pic="Budi",
                      target=target),) if target else ()
    return CycleRecord(
        cycle=n, department="QC", issued_at=issued, plan_due_at=plan_due, planned_at=planned,
        implemented_at=implemented, correction="", whys=(), category_6m="", root_cause="",
        actions=actions, completion_date=None, completion_evidence="",
        verification_result=result, verification_note="", verifier="", verified_at=verified,
        closed_at=verified if result == "effective" else None)


def record(seq: int, received: datetime, *, status: str, customer: str = "PT Sinar",
           product: str = "Botol PET 600 ml", category: str = "Kualitas",
           first_response: datetime | None = None, first_response_due: datetime | None = None,
           closed: datetime | None = None, cycles: tuple[CycleRecord, ...] = (),
           repeat_of: str = "", month: str = "X", **extra: Any) -> ComplaintRecord:
    return ComplaintRecord(
        number=f"{seq:03d}/PTPP/MKT/{month}/2026", year=2026, seq=seq, received_at=received,
        channel="email", customer=customer, customer_email="", subject="", description="",
        product=product, batch="", quantity="", category=category, department="QC",
        status=status, valid=status != states.REJECTED, first_response_at=first_response,
        first_response_due_at=first_response_due, closed_at=closed,
        return_requested=False, return_claim="", remarks="", cycles=cycles,
        repeat_of=repeat_of, **extra)


E = record(1, wib(9, 25, 9), status=states.IMPLEMENTED, month="IX",
           first_response=wib(9, 25, 10))
F = record(2, wib(9, 28, 9), status=states.CLOSED, month="IX", customer="CV Maju",
           first_response=wib(9, 28, 10), closed=wib(11, 2, 9))
A = record(3, wib(10, 5, 9), status=states.CLOSED, first_response=wib(10, 5, 11),
           closed=wib(10, 12, 10), cycles=(cycle(
               1, issued=wib(10, 5, 13), plan_due=wib(10, 8, 13), planned=wib(10, 7, 13),
               implemented=wib(10, 9, 15), verified=wib(10, 12, 10), target=date(2026, 10, 9),
               result="effective"),))
B = record(4, wib(10, 8, 16), status=states.ISSUED, customer="CV Maju", product="Galon 19 L",
           category="Kemasan", first_response=wib(10, 12, 9),
           first_response_due=wib(10, 9, 16), cycles=(cycle(1, issued=wib(10, 13, 10)),))
C = record(5, wib(10, 20, 10), status=states.TRIAGE, first_response=wib(10, 20, 10, 30),
           repeat_of=A.number)
D = record(6, wib(10, 21, 11), status=states.REJECTED, customer="Iklan", product="")
G = record(7, wib(10, 29, 9), status=states.ASSIGNED, customer="UD Berkah", product="")
H = record(8, wib(11, 2, 9), status=states.TRIAGE, month="XI")
ALL = [E, F, A, B, C, D, G, H]
OCTOBER = [A, B, C, D, G]
MONTH_END = datetime(2026, 11, 1, tzinfo=WIB)


# ---- months without data ----------------------------------------------------------------


def test_months_before_the_first_complaint_and_after_now_are_gaps() -> None:
    # The records begin in September (E): earlier months have no data; October has 4 valid
    # (D rejected); November has H; December is after `now`.
    counts = monthly_counts(ALL, end_month=(2026, 12), months=6, tz=WIB,
                            data_from=E.received_at, now=NOW)
    assert counts == [("2026-07", None), ("2026-08", None), ("2026-09", 2),
                      ("2026-10", 4), ("2026-11", 1), ("2026-12", None)]
    # A month between the first complaint and now without any is a real 0.
    assert monthly_counts([E, H], end_month=(2026, 11), months=3, tz=WIB,
                          data_from=E.received_at, now=NOW) == [
        ("2026-09", 1), ("2026-10", 0), ("2026-11", 1)]
    # Without the two bounds every month is a number, as before.
    assert monthly_counts(ALL, end_month=(2026, 8), months=2, tz=WIB) == [
        ("2026-07", 0), ("2026-08", 0)]


def test_a_month_with_nothing_closed_has_no_median() -> None:
    # September: F closed, receipt Mon 09-28 09:00 -> Mon 11-02 09:00 = 25 working days.
    # October: A, Mon 10-05 09:00 -> Mon 10-12 10:00 = 8 + 4 x 9 + 2 = 46 h = 5.1.
    assert monthly_medians(ALL, end_month=(2026, 11), months=4, cal=CAL) == [
        ("2026-08", None), ("2026-09", 25.0), ("2026-10", 5.1), ("2026-11", None)]


# ---- Pareto -----------------------------------------------------------------------------


def test_pareto_by_product_and_customer() -> None:
    assert pareto(OCTOBER, key=lambda r: r.product) == [
        ("Botol PET 600 ml", 2, 50.0), (UNCLASSIFIED, 1, 75.0), ("Galon 19 L", 1, 100.0)]
    assert pareto(OCTOBER, key=lambda r: r.customer) == [
        ("PT Sinar", 2, 50.0), ("CV Maju", 1, 75.0), ("UD Berkah", 1, 100.0)]


def test_pareto_top_folds_the_rest_into_other() -> None:
    rows = [(f"P{n}", 10 - n, 0.0) for n in range(10)]
    top = pareto_top(rows, 4)
    assert top[:3] == rows[:3]
    assert top[3] == ("Lainnya", sum(10 - n for n in range(3, 10)), 100.0)
    assert pareto_top(rows[:4], 4) == rows[:4]


# ---- open complaints by age ---------------------------------------------------------------


def test_open_by_age_at_the_months_end_counts_what_was_open_then() -> None:
    # At Sun 11-01 00:00: G Thu 10-29 09:00 -> 8 + 9 = 17 h = 1.9 -> '0-2';
    # C Tue 10-20 10:00 -> 7 + 3 x 9 + 5 x 9 = 79 h = 8.8 -> '6-10';
    # B (16.1), E and F (closed only on 11-02) -> '>10'. A closed, D rejected, H not yet
    # received.
    assert open_by_age(ALL, now=MONTH_END, cal=CAL) == [
        ("0-2", 1), ("3-5", 0), ("6-10", 1), (">10", 3)]
    # At `now` (Tue 11-03 10:00): F is closed, H has come (8 + 2 h = 1.1); G is 17 + 9 + 2 =
    # 28 h = 3.1 old, C 79 + 11 = 90 h = 10.0 (still '6-10').
    assert open_by_age(ALL, now=NOW, cal=CAL) == [
        ("0-2", 1), ("3-5", 1), ("6-10", 1), (">10", 2)]


# ---- lead times per step ------------------------------------------------------------------


def test_lead_times_per_step_against_the_clocks() -> None:
    steps = {s.key: s for s in step_lead_times(OCTOBER, now=NOW, cal=CAL, targets=TARGETS)}
    assert list(steps) == ["first_response", "triage", "plan", "implementation",
                           "verification", "closing"]

    first = steps["first_response"]
    # A 2 h = 0.22 (due Tue 10-06 09:00); B Thu 1 h + Fri 9 h + Mon 1 h = 1.22, after its
    # recorded due Fri 10-09 16:00; C 0.5 h. G has none, due Fri 10-30 09:00: late, open.
    assert (first.done, first.median, first.on_time, first.judged, first.pct,
            first.late_open) == (3, 0.2, 2, 3, 66.7, 1)
    assert first.target == "maks. 1 hari kerja"

    triage = steps["triage"]
    # A issued after 4 h (0.44); B Thu 1 + Fri 9 + Mon 9 + Tue 2 = 21 h (2.33), late. C (in
    # triage) and G (assigned, not issued) are past their 1 working day.
    assert (triage.done, triage.median, triage.on_time, triage.judged,
            triage.late_open) == (2, 1.4, 1, 2, 2)

    plan = steps["plan"]
    # A Mon 13:00 -> Wed 13:00 = 18 h = 2.0 by its due; B issued Tue 10-13 10:00, no plan by
    # Fri 10-16 10:00 (3 working days, nothing recorded): late and open.
    assert (plan.done, plan.median, plan.pct, plan.late_open) == (1, 2.0, 100.0, 1)
    assert plan.target == "maks. 3 hari kerja"

    implementation = steps["implementation"]
    # A Wed 13:00 -> Fri 15:00 = 4 + 9 + 7 = 20 h = 2.2, by the end of its target Fri 10-09.
    assert (implementation.done, implementation.median, implementation.pct,
            implementation.target) == (1, 2.2, 100.0, "tanggal target tindakan")

    verification = steps["verification"]
    assert (verification.done, verification.median, verification.pct) == (1, 0.4, 100.0)

    closing = steps["closing"]
    # 46 h = 5.1, closed Mon 10-12 after its target Fri 10-09 (as closed_on_target says).
    assert (closing.done, closing.median, closing.on_time, closing.judged,
            closing.pct) == (1, 5.1, 0, 1, 0.0)


def test_the_steps_of_a_cycle_count_once_per_cycle() -> None:
    second = replace(A, cycles=(
        cycle(1, issued=wib(10, 5, 13), planned=wib(10, 6, 13), implemented=wib(10, 7, 13),
              verified=wib(10, 8, 13), target=date(2026, 10, 6), result="not_effective"),
        cycle(2, issued=wib(10, 8, 13), planned=wib(10, 13, 13), implemented=wib(10, 14, 13),
              verified=wib(10, 15, 13), target=date(2026, 10, 20), result="effective")))
    steps = {s.key: s for s in step_lead_times([second], now=NOW, cal=CAL, targets=TARGETS)}
    # plans: 1.0 (on time) and Thu -> Tue = 3.0 working days (on time: due is exactly then)
    assert (steps["plan"].done, steps["plan"].on_time) == (2, 2)
    # cycle 1 was done a day after its target 10-06, cycle 2 well before 10-20
    assert (steps["implementation"].done, steps["implementation"].on_time) == (2, 1)
    assert steps["verification"].done == 2 and steps["triage"].done == 1


def test_other_clock_lengths_come_from_the_settings() -> None:
    strict = StepTargets(first_response=1, triage=1, plan=1, verify=5)
    plan = next(s for s in step_lead_times([replace(A, cycles=(replace(
        A.cycles[0], plan_due_at=None),))], now=NOW, cal=CAL, targets=strict)
        if s.key == "plan")
    assert (plan.pct, plan.target) == (0.0, "maks. 1 hari kerja")  # 2.0 days > 1


# ---- repeats and the return claim ------------------------------------------------------------


def test_repeat_complaints_name_the_earlier_one() -> None:
    [item] = repeat_complaints(ALL, CAL)
    assert (item.number, item.repeat_of, item.received, item.status) == (
        C.number, A.number, date(2026, 10, 20), states.LABELS_ID[states.TRIAGE])


@pytest.mark.parametrize(("requested", "claim", "number", "retur"), [
    (True, "", "KR-003/PTPP/MKT/X/2026", "Y, KR-003/PTPP/MKT/X/2026"),
    (False, CLAIM_WITHOUT_NUMBER, "KR-003/PTPP/MKT/X/2026", "Y, KR-003/PTPP/MKT/X/2026"),
    (True, "KR-LAMA-7", "KR-LAMA-7", "Y, KR-LAMA-7"),
    (False, "", "", "T"),
])
def test_the_register_shows_the_return_claim_number(requested: bool, claim: str,
                                                     number: str, retur: str) -> None:
    r = replace(A, return_requested=requested, return_claim=claim)
    assert claim_number(r) == number
    assert register_rows([r], CAL)[0].values[17] == retur


# ---- the month's figures together ---------------------------------------------------------


def test_recap_of_october() -> None:
    fig = recap(ALL, year=2026, month=10, now=NOW, cal=CAL, targets=TARGETS)
    assert fig.open_at == MONTH_END  # `now` is later
    assert fig.open_by_age == open_by_age(ALL, now=MONTH_END, cal=CAL)
    assert [r.number for r in fig.repeats] == [C.number]
    assert fig.by_product[0] == ("Botol PET 600 ml", 2, 50.0)
    assert fig.by_customer[0] == ("PT Sinar", 2, 50.0)
    assert [s.key for s in fig.steps][0] == "first_response"
    # data from E (September) on; the 12 months end with October
    assert [n for _, n in fig.per_month] == [None] * 10 + [2, 4]
    assert fig.per_month_median[-2:] == [("2026-09", 25.0), ("2026-10", 5.1)]
    # a recap drawn up before the month ends ages the open complaints at `now`
    early = datetime(2026, 10, 21, 12, 0, tzinfo=WIB)
    fig = recap([r for r in ALL if r.received_at < early], year=2026, month=10, now=early,
                cal=CAL)
    assert fig.open_at == early
    assert fig.per_month[-1] == ("2026-10", 3)  # A, B, C (D is rejected)


# ---- the Word recap -----------------------------------------------------------------------

W_SZ = qn("w:sz")


def _estimated_mm(word: str, size_pt: float, bold: bool = False) -> float:
    """An estimate independent of reports.textwidth: capitals and wide letters 0.67 em,
    digits and most lower case 0.55, narrow letters and punctuation 0.28 (Arial)."""
    em = 0.0
    for c in word:
        if c in "mwMW":
            em += 0.85
        elif c.isupper():
            em += 0.67
        elif c in "ijlft.,:;'|!/()-rI ":
            em += 0.3
        else:
            em += 0.55
    return em * (1.06 if bold else 1.0) * size_pt * 25.4 / 72


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, bytes]:
    from appfixture import LocalApp
    from recap_sample import NOW as SAMPLE_NOW
    from recap_sample import populate

    from mailproc import store
    from mailproc.bootstrap import build_app
    from mailproc.config import load_settings
    from mailproc.reports import jobs

    local = LocalApp(tmp_path_factory.mktemp("review"))
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    app = build_app(settings, clock=lambda: SAMPLE_NOW)
    populate(app.calendar, plan_days=settings.calendar.plan_days)
    fig, docx, _ = jobs.build_recap(app, 2026, 10, SAMPLE_NOW)
    return fig, docx


def _table(doc: Any, first: str) -> Any:
    return next(t for t in doc.tables if t.rows[0].cells[0].text.strip() == first)


def test_the_recap_shows_the_review_sections(built: tuple[Any, bytes]) -> None:
    fig, content = built
    doc = Document(io.BytesIO(content))
    text = "\n".join(p.text for p in doc.paragraphs)
    for heading in ("A. RINGKASAN", "B. WAKTU PROSES PER TAHAP TERHADAP TARGET",
                    "C. KELUHAN TERBUKA MENURUT UMUR", "D. KELUHAN BERULANG", "E. GRAFIK",
                    "F. DAFTAR KELUHAN PELANGGAN"):
        assert heading in text, heading
    # The review pages portrait, the register landscape.
    assert doc.sections[0].page_height > doc.sections[0].page_width
    assert doc.sections[1].page_width > doc.sections[1].page_height

    steps = _table(doc, "Tahap")
    body = [[c.text for c in row.cells] for row in steps.rows[1:]]
    assert [r[0] for r in body] == [s.label for s in fig.steps]
    first = fig.steps[0]
    assert body[0][3:] == [str(first.done), f"{first.median:.1f}".replace(".", ","),
                           f"{first.on_time}/{first.judged}", f"{first.pct:.0f}%",
                           str(first.late_open)]

    ages = _table(doc, "0\u20132 hari kerja")
    assert [c.text for c in ages.rows[1].cells] == [
        *(str(n) for _, n in fig.open_by_age), str(sum(n for _, n in fig.open_by_age))]

    repeats = _table(doc, "No. PTPP")
    assert fig.repeats  # the sample has some
    assert [row.cells[0].text for row in repeats.rows[1:]] == [r.number for r in fig.repeats]
    assert [row.cells[4].text for row in repeats.rows[1:]] == [r.repeat_of for r in fig.repeats]


def test_two_charts_a_page_each_with_its_caption(built: tuple[Any, bytes]) -> None:
    fig, content = built
    doc = Document(io.BytesIO(content))
    assert len(doc.inline_shapes) == 8
    for shape in doc.inline_shapes:  # 16 x 9.5 cm: two with their captions on a page
        assert abs(shape.width.cm - 16) < 0.1 and abs(shape.height.cm - 9.5) < 0.1
    paragraphs = doc.paragraphs
    captions = [i for i, p in enumerate(paragraphs) if re.match(r"Grafik \d+\. ", p.text)]
    assert len(captions) == 8
    for n, i in enumerate(captions, start=1):
        caption, image = paragraphs[i], paragraphs[i + 1]
        assert image._p.xpath(".//pic:pic"), "the chart follows its caption"
        assert caption._p.pPr.find(qn("w:keepNext")) is not None  # kept with its chart
        breaks = caption._p.pPr.find(qn("w:pageBreakBefore")) is not None
        assert breaks == (n % 2 == 1 and n > 1), n  # charts 3, 5, 7 start a page
    assert "Grafik 1. Jumlah keluhan per bulan" in paragraphs[captions[0]].text
    assert "tidak ada data" in paragraphs[captions[0] + 2].text  # the note on gaps
    # April 2026 is the sample's first month: the months before are gaps in the chart
    assert [n for _, n in fig.per_month][:5] == [None] * 5 and fig.per_month[5][1] == 3


def test_no_register_column_is_narrower_than_its_longest_word(
        built: tuple[Any, bytes]) -> None:
    _, content = built
    doc = Document(io.BytesIO(content))
    register = next(t for t in doc.tables if len(t.columns) == 19)
    tbl = register._tbl
    grid = [int(c.get(qn("w:w"))) / 1440 * 25.4 for c in tbl.tblGrid.findall(qn("w:gridCol"))]
    assert abs(sum(grid) - 277) < 0.5  # the landscape text width, kept
    body_tr = tbl.findall(qn("w:tr"))[1]
    size = int(next(body_tr.iter(W_SZ)).get(qn("w:val"))) / 2
    assert 6 <= size <= 7
    margins = tbl.tblPr.find(qn("w:tblCellMar"))
    padding = sum(int(margins.find(qn(f"w:{side}")).get(qn("w:w")))
                  for side in ("left", "right")) / 1440 * 25.4
    retur = []
    for k, width in enumerate(grid):
        cells = [row.cells[k].text for row in register.rows[1:]]
        words = [p for text in cells for w in text.split()
                 for p in re.split(r"(?<=-)(?=[A-Za-z])", w)]  # a line may end after 'pt-'
        longest = max(words, key=lambda w: _estimated_mm(w, size), default="")
        need = _estimated_mm(longest, size) + padding
        assert width >= need * 0.98, (register.rows[0].cells[k].text, longest, width, need)
        if k == 17:
            retur = cells
    # The Retur column names the claim: KR-<PTPP number>.
    numbers = [row.cells[1].text for row in register.rows[1:]]
    claims = [(n, c) for n, c in zip(numbers, retur, strict=True) if c.startswith("Y")]
    assert claims and all(f"KR-{n}" in c for n, c in claims)


def test_the_recap_mail_names_repeats_and_open_complaints() -> None:
    from mailproc.ops.doctor import MAIL_SAMPLES
    from mailproc.outgoing.texts import MailTexts

    templates = Path(__file__).resolve().parents[2] / "doc_templates"
    texts = MailTexts(templates).render("recap", **MAIL_SAMPLES["recap"])
    assert "Keluhan berulang        : 1" in texts.body
    assert "Seluruh keluhan terbuka : 4 (per 30 November 2026" in texts.body
