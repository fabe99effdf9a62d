"""Reading filled forms back: by tag, alias or label; placeholders, conflicts, no form."""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docfill import (  # noqa: E402
    NS,
    PTPP_ANSWERS,
    RETUR_ANSWERS,
    W,
    edit_part,
    fill,
    png,
    strip_controls,
)

from mailproc.domain import forms  # noqa: E402
from mailproc.domain.forms import parse_date  # noqa: E402
from mailproc.forms.catalogue import sample_context  # noqa: E402
from mailproc.forms.readback import read_form  # noqa: E402
from mailproc.forms.render import render  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PTPP = REPO / "doc_templates" / "ptpp.docx"
RETUR = REPO / "doc_templates" / "retur.docx"


@pytest.fixture(scope="module")
def ptpp() -> bytes:
    return render(PTPP, sample_context("ptpp"), images=[("Foto 1: leher retak", png(40, 30)),
                                                        ("Foto 2", png(30, 40, 90))])


@pytest.fixture(scope="module")
def retur() -> bytes:
    return render(RETUR, sample_context("retur"))


def expected_ptpp() -> dict[str, str]:
    values = {spec.name: "" for spec in forms.PTPP_FIELDS}
    values.update({name: "0" for name, _ in forms.PTPP_SOURCES})
    values.update(ptpp_number="001/PTPP/MKT/XI/2026", cycle="2", source_customer_complaint="1")
    values.update(PTPP_ANSWERS)
    return values


def expected_retur() -> dict[str, str]:
    values = {spec.name: "" for spec in forms.RETURN_FIELDS}
    values.update({name: "0" for name, _ in forms.RETURN_REASONS})
    ctx = sample_context("retur")
    values.update(claim_number=ctx["claim_number"], ptpp_number=ctx["ptpp_number"],
                  delivery_note=ctx["delivery_note"], invoice=ctx["invoice"])
    values.update(RETUR_ANSWERS)
    return values


def same_values(got: dict[str, str], want: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Differences, comparing date fields as dates (a stripped date control keeps only its
    text dd/mm/yyyy, the picker's w:fullDate is gone)."""
    dates = {s.name for fields in forms.FORMS.values() for s in fields if s.kind == "date"}
    diff = {}
    for name, value in want.items():
        if name in dates and value and parse_date(got.get(name, "")) == parse_date(value):
            continue
        if got.get(name) != value:
            diff[name] = (got.get(name, "<missing>"), value)
    return diff


# ---- reading filled forms -----------------------------------------------------------------


def test_an_unfilled_form_reads_empty_by_tag(ptpp: bytes) -> None:
    form = read_form(ptpp)
    assert form.form == "ptpp"
    assert set(form.how.values()) == {"tag"}
    assert set(form.how) == {s.name for s in forms.PTPP_FIELDS}
    assert {k: v for k, v in form.values.items() if v not in ("", "0")} == {
        "ptpp_number": "001/PTPP/MKT/XI/2026", "cycle": "2", "source_customer_complaint": "1"}


def test_filled_ptpp_reads_every_value_by_tag(ptpp: bytes) -> None:
    form = read_form(fill(ptpp, PTPP_ANSWERS))
    assert form.form == "ptpp"
    want = expected_ptpp()
    assert form.values == want  # dates from the picker as YYYY-MM-DD, typed ones as written
    assert form.values["action_2_target"] == "15/12/2026"
    assert form.values["correction"].count("\n") == 1
    assert set(form.how.values()) == {"tag"}
    assert form.conflicts == {}


def test_stripped_ptpp_reads_the_same_values_by_label(ptpp: bytes) -> None:
    stripped = strip_controls(fill(ptpp, PTPP_ANSWERS))
    assert b"<w:sdt" not in zipfile.ZipFile(io.BytesIO(stripped)).read("word/document.xml")
    form = read_form(stripped)
    assert form.form == "ptpp"
    assert same_values(dict(form.values), expected_ptpp()) == {}
    assert set(form.how.values()) == {"label"}
    assert set(form.how) == {s.name for s in forms.PTPP_FIELDS}


def test_stripped_empty_form_reads_placeholders_as_empty(ptpp: bytes) -> None:
    form = read_form(strip_controls(ptpp))
    assert {k: v for k, v in form.values.items() if v not in ("", "0")} == {
        "ptpp_number": "001/PTPP/MKT/XI/2026", "cycle": "2", "source_customer_complaint": "1"}


def test_return_form_by_tag_and_by_label(retur: bytes) -> None:
    filled = fill(retur, RETUR_ANSWERS)
    form = read_form(filled)
    assert form.form == "retur"
    assert form.values == expected_retur()
    stripped = read_form(strip_controls(filled))
    assert stripped.form == "retur"
    assert same_values(dict(stripped.values), expected_retur()) == {}
    assert set(stripped.how.values()) == {"label"}
    assert forms.validate(form.values, "claim", issued_on=parse_date("25/11/2026")) == []


def test_values_validate_as_a_complete_ptpp(ptpp: bytes) -> None:
    values = read_form(fill(ptpp, PTPP_ANSWERS)).values
    assert forms.detect_step(values) == "verify"
    issued = parse_date("25/11/2026")
    for step in ("plan", "implement", "verify"):
        assert forms.validate(values, step, issued_on=issued) == []


def test_placeholder_texts_count_as_empty(ptpp: bytes) -> None:
    # LibreOffice drops w:showingPlcHdr: the placeholder text itself must read as empty.
    def drop_markers(xml: bytes) -> bytes:
        return xml.replace(b"<w:showingPlcHdr/>", b"")

    form = read_form(edit_part(ptpp, "word/document.xml", drop_markers))
    assert form.values["correction"] == form.values["action_1_cause"] == ""
    assert form.values["correction_date"] == form.values["category_6m"] == ""


def test_deleted_text_and_line_breaks(ptpp: bytes) -> None:
    filled = fill(ptpp, {"why_1": "Botol retak", "why_2": "Kolom\tA"})

    def tracked_delete(xml: bytes) -> bytes:
        return xml.replace(
            b'<w:t xml:space="preserve">Botol retak</w:t>',
            b'<w:t xml:space="preserve">Botol </w:t></w:r><w:del w:id="9" w:author="x">'
            b'<w:r><w:delText>tidak </w:delText></w:r></w:del><w:r><w:t>retak</w:t>'
            b'<w:cr/><w:t>lagi</w:t>')

    values = read_form(edit_part(filled, "word/document.xml", tracked_delete)).values
    assert values["why_1"] == "Botol retak\nlagi"


def test_a_docx_without_form_fields_is_no_form() -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("Terlampir surat keluhan kami. No. PTPP: 001/PTPP/MKT/XI/2026")
    table = doc.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "No. PTPP"  # a label shared by both forms decides nothing
    table.cell(0, 1).text = "001/PTPP/MKT/XI/2026"
    out = io.BytesIO()
    doc.save(out)
    form = read_form(out.getvalue())
    assert (form.form, dict(form.values), dict(form.how)) == (None, {}, {})


def test_two_controls_with_the_same_tag(ptpp: bytes) -> None:
    def duplicate_why_1_as_why_2(xml: bytes) -> bytes:
        return xml.replace(b'w:val="why_2"', b'w:val="why_1"')

    doubled = edit_part(ptpp, "word/document.xml", duplicate_why_1_as_why_2)
    # Only the second copy filled: its value counts, no conflict.
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(doubled)).read("word/document.xml"))
    tagged = [s for s in root.iter(f"{{{W}}}sdt")
              if s.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val") == "why_1"]
    assert len(tagged) == 2
    form = read_form(edit_part(fill(ptpp, {"why_2": "kedua"}), "word/document.xml",
                               duplicate_why_1_as_why_2))
    assert form.values["why_1"] == "kedua" and form.conflicts == {}
    # The row labelled 'Mengapa 2' still gives why_2, by its label.
    assert form.values["why_2"] == "kedua" and form.how["why_2"] == "label"
    # Both filled differently: the first wins and the conflict is reported.
    both = edit_part(fill(ptpp, {"why_1": "pertama", "why_2": "kedua"}), "word/document.xml",
                     duplicate_why_1_as_why_2)
    form = read_form(both)
    assert form.values["why_1"] == "pertama"
    assert form.conflicts == {"why_1": ("pertama", "kedua")}


def test_alias_is_used_when_the_tag_is_gone(ptpp: bytes) -> None:
    filled = fill(ptpp, {"root_cause": "Suhu", "category_6m": "Mesin"})
    no_tags = edit_part(filled, "word/document.xml",
                        lambda x: re.sub(rb"<w:tag w:val=\"[^\"]*\"/>", b"", x))
    form = read_form(no_tags)
    assert form.values["root_cause"] == "Suhu" and form.how["root_cause"] == "alias"
    no_names = edit_part(no_tags, "word/document.xml",
                         lambda x: re.sub(rb"<w:alias w:val=\"[^\"]*\"/>", b"", x))
    form = read_form(no_names)
    assert form.values["root_cause"] == "Suhu" and form.how["root_cause"] == "label"
    assert form.values["category_6m"] == "Mesin"
    assert form.values["source_customer_complaint"] == "1"
    assert form.how["action_3_target"] == "label"
