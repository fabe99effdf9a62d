"""Issue #13 item 2: a not-effective verification opens a new PTPP with its own number."""

from __future__ import annotations

import contextlib
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docx import Document

from mailproc.domain import numbering
from mailproc.domain.lifecycle import Case, ComplaintStatus, Cycle, EventKind, LifecycleError
from mailproc.forms import readback
from mailproc.forms.fill import fill_controls

AT = datetime(2025, 7, 15, 3, 0, tzinfo=UTC)
FIRST = "001/PTPP/MKT/VII/2025"
TEMPLATE = Path(__file__).parents[2] / "doc_templates" / "ptpp.docx"


def implemented() -> Case:
    return Case(number=FIRST, status=ComplaintStatus.IMPLEMENTED, department="qc",
                cycles=[Cycle(1, "qc", ptpp_number=FIRST)])


def test_not_effective_opens_the_next_cycle_under_the_number_given_and_links_both_ways():
    case = implemented()
    events = case.verify(effective=False, note="Terulang", verifier="rina", at=AT,
                         next_number=lambda: "007/PTPP/MKT/VII/2025")
    verified, started = events
    assert verified.data["new_number"] == "007/PTPP/MKT/VII/2025"
    assert started.kind == EventKind.CYCLE_STARTED
    assert started.data == {"cycle": 2, "number": "007/PTPP/MKT/VII/2025",
                            "previous_number": FIRST}
    assert case.cycle.ptpp_number == "007/PTPP/MKT/VII/2025"
    assert case.number == FIRST  # the complaint keeps its first number


def test_without_a_number_the_next_cycle_takes_the_first_with_a_suffix():
    case = implemented()
    case.verify(effective=False, note="Terulang", verifier="rina", at=AT)
    assert case.cycle.ptpp_number == numbering.suffixed(FIRST, 2) == f"{FIRST}-2"


@pytest.mark.parametrize("effective,note", [(True, "Tuntas"), (False, "   ")])
def test_the_sequence_is_asked_only_when_a_new_cycle_opens(effective: bool, note: str):
    asked: list[int] = []

    def allocate() -> str:
        asked.append(1)
        return "002/PTPP/MKT/VII/2025"

    case = implemented()
    with contextlib.suppress(LifecycleError):  # the empty note: refused before any number
        case.verify(effective=effective, note=note, verifier="rina", at=AT,
                    next_number=allocate)
    assert asked == []


def test_section_c_written_into_a_form_keeps_the_rest():
    content = TEMPLATE.read_bytes()
    filled, found = fill_controls(content, {
        "verification_result": "Tidak efektif", "verification_status": "Open",
        "verification_note": "Keluhan terulang\npada pengiriman berikutnya",
        "verification_date": "21/07/2025", "verifier": "Rina",
        "new_ptpp_number": "007/PTPP/MKT/VII/2025", "not_a_control": "x"})
    assert found == {"verification_result", "verification_status", "verification_note",
                     "verification_date", "verifier", "new_ptpp_number"}
    values = readback.read_form(filled).values
    assert values["new_ptpp_number"] == "007/PTPP/MKT/VII/2025"
    assert values["verification_result"] == "Tidak efektif"
    assert values["verification_note"] == "Keluhan terulang\npada pengiriman berikutnya"
    assert values.get("root_cause", "") == ""  # untouched controls stay empty
    Document(io.BytesIO(filled))  # still a document Word and python-docx open
    before = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert zipfile.ZipFile(io.BytesIO(filled)).namelist() == before


def test_a_file_that_is_not_a_form_is_refused_clearly():
    with pytest.raises(zipfile.BadZipFile):
        fill_controls(b"not a zip", {"verifier": "x"})
