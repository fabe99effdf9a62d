"""Rendering the form templates: values as data, photos, placeholders, template errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docfill import (  # noqa: E402
    NS,
    W,
    header_names,
    part,
    png,
    visible_text,
)

from mailproc.forms.catalogue import sample_context  # noqa: E402
from mailproc.forms.package import TemplateProblem  # noqa: E402
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
