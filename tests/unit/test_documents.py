"""Word forms: rendering the templates, reading filled forms back, and every bad input."""

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
from mailproc.forms import documents  # noqa: E402
from mailproc.forms.documents import (  # noqa: E402
    CorruptDocument,
    DocumentError,
    Limits,
    MacroDocument,
    TemplateProblem,
    UnsafeDocument,
    UnsupportedDocument,
    check_template,
    read_form,
    render,
    sample_context,
    sniff,
    template_fields,
)

REPO = Path(__file__).resolve().parents[2]
PTPP = REPO / "doc_templates" / "ptpp.docx"
RETUR = REPO / "doc_templates" / "retur.docx"
NS = {"w": W, "w14": "http://schemas.microsoft.com/office/word/2010/wordml"}


def part(content: bytes, name: str = "word/document.xml") -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(content)).read(name))


def header_names(content: bytes) -> list[str]:
    return [n for n in zipfile.ZipFile(io.BytesIO(content)).namelist()
            if re.fullmatch(r"word/header\d*\.xml", n)]


def visible_text(root: etree._Element) -> str:
    return "".join(t.text or "" for t in root.iter(f"{{{W}}}t"))


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


# ---- the templates ------------------------------------------------------------------------


def test_shipped_templates_pass_their_own_check() -> None:
    assert check_template(PTPP, "ptpp") == []
    assert check_template(RETUR, "retur") == []
    assert check_template(PTPP.read_bytes(), "ptpp") == []


def test_every_fillable_control_is_well_formed() -> None:
    for path, form in ((PTPP, "ptpp"), (RETUR, "retur")):
        root = part(path.read_bytes())
        specs = forms.field_map(form)
        sdts = root.findall(".//w:sdt", NS)
        assert len(sdts) == len(specs)
        for sdt in sdts:
            pr = sdt.find("w:sdtPr", NS)
            tag = pr.find("w:tag", NS).get(f"{{{W}}}val")
            assert pr.find("w:alias", NS).get(f"{{{W}}}val") == tag
            assert pr.find("w:lock", NS).get(f"{{{W}}}val") == "sdtLocked"
            spec = specs[tag]
            if spec.kind == "date":
                assert pr.find("w:date/w:dateFormat", NS).get(f"{{{W}}}val") == "dd/MM/yyyy"
                assert pr.find("w:date/w:lid", NS).get(f"{{{W}}}val") == "id-ID"
            elif spec.kind == "dropdown":
                items = [i.get(f"{{{W}}}displayText")
                         for i in pr.findall("w:dropDownList/w:listItem", NS)]
                assert tuple(items) == spec.options
            elif spec.kind == "checkbox":
                assert pr.find("w14:checkbox/w14:checked", NS) is not None
            else:
                assert pr.find("w:text", NS) is not None
            prefilled = "{{" in visible_text(sdt)
            if spec.kind != "checkbox" and not prefilled:
                assert pr.find("w:showingPlcHdr", NS) is not None, tag


def test_template_fields_lists_every_control_in_order() -> None:
    fields = template_fields(PTPP)
    assert [tag for tag, _ in fields] == [s.name for s in forms.PTPP_FIELDS]
    kinds = dict(fields)
    assert kinds["correction_date"] == "date"
    assert kinds["category_6m"] == "dropdown"
    assert kinds["source_customer_complaint"] == "checkbox"
    assert kinds["ptpp_number"] == "text"
    assert [tag for tag, _ in template_fields(RETUR)] == [s.name for s in forms.RETURN_FIELDS]


def test_header_block_on_every_page_with_real_page_fields(ptpp: bytes) -> None:
    names = header_names(ptpp)
    assert names, "the form needs a page header"
    header = part(ptpp, names[0])
    text = visible_text(header)
    assert "PERMINTAAN TINDAKAN PERBAIKAN DAN PENCEGAHAN (PTPP)" in text
    assert "PT Contoh Manufaktur Indonesia" in text
    assert "FM-MR-15" in text and "18/09/2023" in text and "Halaman" in text
    instructions = [f.get(f"{{{W}}}instr").split()[0] for f in header.iter(f"{{{W}}}fldSimple")]
    assert instructions == ["PAGE", "NUMPAGES"]
    # The header part is the default one, used on every page.
    sect = part(ptpp).find(".//w:sectPr", NS)
    refs = sect.findall("w:headerReference", NS)
    assert [r.get(f"{{{W}}}type") for r in refs] == ["default"]
    assert sect.find("w:titlePg", NS) is None


def test_check_template_reports_a_missing_field_and_bad_controls(tmp_path: Path) -> None:
    def drop_root_cause(xml: bytes) -> bytes:
        root = etree.fromstring(xml)
        for sdt in root.iter(f"{{{W}}}sdt"):
            if sdt.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val") == "root_cause":
                sdt.getparent().remove(sdt)
            elif sdt.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val") == "verifier":
                sdt.find("w:sdtPr/w:alias", NS).set(f"{{{W}}}val", "Verifikator")
            elif sdt.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val") == "completion_date":
                pr = sdt.find("w:sdtPr", NS)
                pr.remove(pr.find("w:date", NS))
                etree.SubElement(pr, f"{{{W}}}text")
        return etree.tostring(root)

    broken = tmp_path / "ptpp.docx"
    broken.write_bytes(edit_part(PTPP.read_bytes(), "word/document.xml", drop_root_cause))
    assert check_template(broken, "ptpp") == [
        "ptpp.docx: control tag 'verifier' differs from its alias 'Verifikator'",
        "ptpp.docx: field 'root_cause' (Akar penyebab, required for step plan, implement) "
        "is missing",
        "ptpp.docx: field 'completion_date' (Tanggal selesai aktual) should be a date "
        "control, found text",
    ]
    # The PTPP template is not a return-claim template.
    problems = check_template(PTPP, "retur")
    assert "ptpp.docx: field 'claim_number' (No. Klaim, required for step claim) is missing" \
        in problems


def test_check_template_reports_render_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(edit_part(PTPP.read_bytes(), "word/document.xml",
                              lambda x: x.replace(b"{{ customer }}", b"{{ customer }")))
    [problem] = check_template(bad, "ptpp")
    assert problem.startswith("bad.docx: cannot be rendered: bad.docx: template error:")
    [problem] = check_template(tmp_path / "missing.docx", "ptpp")
    assert "form template not found" in problem
    [problem] = check_template(b"not a docx", "ptpp")
    assert problem.startswith("template: cannot be rendered")


def test_render_errors_are_template_problems(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="not found"):
        render(tmp_path / "nope.docx", {})
    with pytest.raises(TemplateProblem, match="not a readable .docx template"):
        render(b"PK\x03\x04 broken", {})


# ---- rendering ----------------------------------------------------------------------------


def test_render_fills_the_form(ptpp: bytes) -> None:
    text = visible_text(part(ptpp))
    for value in ("001/PTPP/MKT/XI/2026", "25/11/2026", "Quality Control", "KEL-2026-0001",
                  "PT Pelanggan Setia", "Botol PET 600 ml", "LOT-2611-07", "1.200 pcs",
                  "INV/2026/11/0456", "SJ/2026/11/0789", "Botol retak pada bagian leher",
                  "Foto 1: leher retak", "ANALISIS SIKLUS SEBELUMNYA",
                  "Suhu cetakan tidak stabil", "Kalibrasi pengendali suhu mesin 3"):
        assert value in text
    assert "{{" not in text and "{%" not in text
    assert "\u2612 Mayor" in text and "\u2610 Minor" in text  # severity 'Mayor' ticked
    # The description's line break is a real break.
    assert part(ptpp).xpath("count(//w:br)", namespaces=NS) >= 1


def test_render_shows_photos_two_by_two_and_nothing_without_photos() -> None:
    ctx = sample_context("ptpp")
    three = render(PTPP, ctx, images=[("a", png(20, 10)), ("b", png(10, 20)), ("c", png(8, 8))])
    root = part(three)
    assert len(root.findall(".//w:drawing", NS)) == 3
    extents = [int(e.get("cx")) for e in root.iter(
        "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}extent")]
    assert max(extents) <= 70 * 36000  # 70 mm in EMU
    none = render(PTPP, dict(ctx, previous=None))
    text = visible_text(part(none))
    assert "Foto bukti" not in text and not part(none).findall(".//w:drawing", NS)
    assert "ANALISIS SIKLUS SEBELUMNYA" not in text


def test_render_skips_a_photo_it_cannot_decode() -> None:
    doc = render(PTPP, sample_context("ptpp"),
                 images=[("rusak.jpg", b"\xff\xd8\xff garbage"), ("bukan-gambar.heic", b"x"),
                         ("ok.png", png(10, 10))])
    root = part(doc)
    assert len(root.findall(".//w:drawing", NS)) == 1
    text = visible_text(root)
    assert "rusak.jpg \u2014 foto tidak dapat ditampilkan (format tidak dikenali)" in text
    assert "bukan-gambar.heic \u2014 foto tidak dapat ditampilkan" in text


INJECTIONS = {
    "template": "{{ 7 * 7 }} {% if true %}X{% endif %} {# c #}",
    "escapes": "A & B < C > D \"q\" 'a'",
    "docxtpl": "{_{ y }_} {_% z %_} {%p if x %} {%tr for %}",
    "xml": "</w:t></w:r><w:r><w:t>injected",
}


@pytest.mark.parametrize("value", list(INJECTIONS.values()), ids=list(INJECTIONS))
def test_context_values_print_exactly_as_written(value: str) -> None:
    ctx = sample_context("ptpp")
    ctx.update(customer=value, description=f"baris 1\n{value}", ptpp_number=value,
               company={"name": value, "address": ""},
               doc={"number": value, "revision": "02", "revision_date": value})
    doc = render(PTPP, ctx)
    body = visible_text(part(doc))
    assert value in body
    assert body.count(value) >= 3  # customer, description, ptpp_number control
    header = visible_text(part(doc, header_names(doc)[0]))
    assert header.count(value) == 3  # company name, document number, revision date
    assert "49" not in body.replace("2026", "")
    # And it reads back exactly from the control.
    assert read_form(doc).values["ptpp_number"] == value


def test_render_drops_characters_xml_cannot_hold() -> None:
    ctx = sample_context("ptpp")
    ctx["customer"] = "PT A\x00B\x07C\x0cD\x1bE\r\nF"
    text = visible_text(part(render(PTPP, ctx)))
    assert "PT ABCDE" in text and "F" in text


def test_render_leaves_the_callers_context_alone() -> None:
    ctx = sample_context("ptpp")
    before = dict(ctx)
    render(PTPP, ctx, images=[("a", png(4, 4))])
    assert ctx == before


def test_empty_prefilled_controls_show_a_placeholder(retur: bytes) -> None:
    ctx = dict(sample_context("retur"), po="", contact=None, items=[])
    doc = render(RETUR, ctx)
    root = part(doc)
    for sdt in root.iter(f"{{{W}}}sdt"):
        tag = sdt.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val")
        if tag in ("po", "contact", "item_1_name"):
            assert sdt.find("w:sdtPr/w:showingPlcHdr", NS) is not None, tag
    values = read_form(doc).values
    assert values["po"] == values["contact"] == values["item_1_name"] == ""
    assert read_form(retur).values["item_1_name"] == "Botol PET 600 ml"


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


# ---- bad input ----------------------------------------------------------------------------


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


DEFAULT_LIMITS = Limits()


def rejected(content: bytes, error: type[DocumentError], *,
             limits: Limits = DEFAULT_LIMITS) -> DocumentError:
    with pytest.raises(error) as info:
        read_form(content, limits=limits)
    assert info.value.reply_id and info.value.reply_id.endswith(".")
    return info.value


@pytest.mark.parametrize(("name", "content", "kind"), [
    ("form.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "doc"),
    ("form.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "doc"),  # encrypted docx
    ("scan.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf"),
    ("foto.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
    ("foto.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
    ("IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image"),
    ("a.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image"),
    ("notes.txt", b"Mohon dicek", "other"),
    ("form.docx", b"Mohon dicek", "docx"),
    ("form.pdf", b"not really", "pdf"),
    ("x", b"", "other"),
])
def test_sniff_by_magic_then_name(name: str, content: bytes, kind: str) -> None:
    assert sniff(name, content) == kind


def test_sniff_zips(ptpp: bytes) -> None:
    assert sniff("PTPP 001.docx", ptpp) == "docx"
    assert sniff("", ptpp) == "docx"
    assert sniff("renamed.zip", ptpp) == "docx"
    assert sniff("form.docm", ptpp) == "docm"
    assert sniff("form.docx", zip_of({"word/document.xml": b"<x/>",
                                      "word/vbaProject.bin": b"\x00"})) == "docm"
    assert sniff("photos.zip", zip_of({"a.jpg": b"\xff\xd8\xff"})) == "zip"
    assert sniff("form.docx", ptpp[:1000]) == "docx"  # truncated: reported damaged later
    assert sniff("x.zip", ptpp[:1000]) == "zip"


def test_the_file_name_sharpens_the_verdict_when_the_bytes_say_nothing() -> None:
    garbage = b"Mohon dicek"
    with pytest.raises(CorruptDocument):
        read_form(garbage, filename="PTPP 001.docx")
    with pytest.raises(UnsupportedDocument):
        read_form(garbage, filename="catatan.txt")
    with pytest.raises(MacroDocument):
        read_form(garbage, filename="PTPP.docm")


def test_legacy_doc_is_unsupported() -> None:
    error = rejected(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000), UnsupportedDocument)
    assert not error.manual_entry
    assert ".doc" in error.reply_id and ".docx" in error.reply_id


@pytest.mark.parametrize("content", [
    b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n",
    b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00" + bytes(100),
    png(8, 8),
], ids=["pdf", "jpeg", "png"])
def test_pdf_and_photos_go_to_manual_entry(content: bytes) -> None:
    error = rejected(content, UnsupportedDocument)
    assert error.manual_entry
    assert "manual" in error.reply_id


@pytest.mark.parametrize("content", [
    b"Terlampir formulir PTPP kami.\r\n", bytes(range(256)) * 4, b"",
], ids=["text", "random", "empty"])
def test_other_bytes_are_unsupported(content: bytes) -> None:
    assert not rejected(content, UnsupportedDocument).manual_entry


def test_a_zip_that_is_not_a_document_is_unsupported() -> None:
    rejected(zip_of({"foto1.jpg": b"\xff\xd8\xff", "foto2.jpg": b"\xff\xd8\xff"}),
             UnsupportedDocument)


def test_macro_documents_are_refused(ptpp: bytes) -> None:
    macro_type = edit_part(
        ptpp, "[Content_Types].xml",
        lambda x: x.replace(b"document.main+xml",
                            b"document.macroEnabled.main+xml"))
    rejected(macro_type, MacroDocument)
    with_vba = zip_of({**{n: zipfile.ZipFile(io.BytesIO(ptpp)).read(n)
                          for n in zipfile.ZipFile(io.BytesIO(ptpp)).namelist()},
                       "word/vbaProject.bin": b"\xd0\xcf\x11\xe0"})
    error = rejected(with_vba, MacroDocument)
    assert ".docx" in error.reply_id


def test_damaged_files_are_corrupt(ptpp: bytes) -> None:
    rejected(ptpp[: len(ptpp) // 2], CorruptDocument)  # truncated
    rejected(ptpp[:-30], CorruptDocument)  # end of central directory cut
    rejected(edit_part(ptpp, "word/document.xml", lambda x: x[:-200]), CorruptDocument)
    rejected(zip_of({"[Content_Types].xml": b"<Types/>", "word/styles.xml": b"<x/>"}),
             CorruptDocument)
    no_body = edit_part(ptpp, "word/document.xml",
                        lambda x: b'<w:document xmlns:w="%s"/>' % W.encode())
    rejected(no_body, CorruptDocument)


def test_flipped_bytes_in_a_member_are_corrupt(ptpp: bytes) -> None:
    zf = zipfile.ZipFile(io.BytesIO(ptpp))
    info = zf.getinfo("word/document.xml")
    data = bytearray(ptpp)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 50, start + 80):
        data[i] ^= 0xFF
    rejected(bytes(data), CorruptDocument)


def bomb(size_mb: int, limits_ok_names: dict[str, bytes]) -> bytes:
    """A zip with word/document.xml of size_mb megabytes of zeros, compressed while it is
    written so the test never holds the expanded data."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in limits_ok_names.items():
            zf.writestr(name, data)
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            chunk = bytes(1 << 20)
            for _ in range(size_mb):
                fh.write(chunk)
    return out.getvalue()


def test_zip_bombs_are_refused_before_anything_is_read(ptpp: bytes,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rels = zipfile.ZipFile(io.BytesIO(ptpp)).read("_rels/.rels")
    big = bomb(200, {"[Content_Types].xml": b"<Types/>", "_rels/.rels": rels})
    assert len(big) < 2_000_000
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, *a, **k: opened.append(a) or real_open(self, *a, **k))
    error = rejected(big, UnsafeDocument)
    assert "uncompressed" in str(error) or "expands" in str(error)
    assert opened == []
    # Under the total but expanding 1000x: the ratio check catches it.
    small = bomb(5, {"[Content_Types].xml": b"<Types/>"})
    assert "expands" in str(rejected(small, UnsafeDocument))


def test_too_many_members_or_too_large_totals(ptpp: bytes) -> None:
    many = zip_of({f"word/media/x{i}.bin": b"" for i in range(2001)})
    assert "members" in str(rejected(many, UnsafeDocument))
    assert "uncompressed" in str(rejected(ptpp, UnsafeDocument,
                                          limits=Limits(max_uncompressed_bytes=10_000)))
    assert "is " in str(rejected(ptpp, UnsafeDocument, limits=Limits(max_xml_part_bytes=1000)))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>&xxe;</w:t></w:r></w:p></w:body></w:document>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_dtds_and_entities_are_refused(ptpp: bytes, xml: bytes) -> None:
    rejected(edit_part(ptpp, "word/document.xml", lambda _: xml), UnsafeDocument)
    # Also in a part mailproc itself does not read.
    rejected(edit_part(ptpp, "word/styles.xml", lambda _: xml), UnsafeDocument)


def test_errors_share_one_base_with_a_reply() -> None:
    for cls in (UnsupportedDocument, MacroDocument, CorruptDocument, UnsafeDocument):
        assert issubclass(cls, DocumentError)
        assert issubclass(cls, documents.MailprocError)
