"""Issue #13 item 12: the company logo (company.logo, a PNG) in every form header."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from appfixture import LocalApp
from docx import Document

from mailproc import store
from mailproc.bootstrap import build_app, logo_problem
from mailproc.config import load_settings
from mailproc.forms.catalogue import sample_context
from mailproc.forms.render import render, render_with_docxtpl
from mailproc.ops import doctor
from mailproc.ptpp import documents

TEMPLATES = Path(__file__).parents[2] / "doc_templates"
IMAGE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"


def png(width: int, height: int) -> bytes:
    """A plain PNG (one colour), written by hand: no imaging library needed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + b"\x1f\x4e\x79" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def header_images(content: bytes) -> list[tuple[bytes, int, int]]:
    """(blob, width EMU, height EMU) of the pictures in the first page header."""
    doc = Document(io.BytesIO(content))
    header = doc.sections[0].header
    out = []
    for blip in header._element.xpath(".//a:blip"):
        rid = blip.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
                       "embed")
        rel = header.part.rels[rid]
        assert rel.reltype == IMAGE_REL
        extent = blip.xpath("ancestor::wp:inline/wp:extent")[0]
        out.append((rel.target_part.blob, int(extent.get("cx")), int(extent.get("cy"))))
    return out


@pytest.mark.parametrize("renderer", [render, render_with_docxtpl])
@pytest.mark.parametrize("form", ["ptpp", "retur"])
def test_the_logo_is_printed_in_the_header_fitted_to_its_box(renderer, form: str):
    logo = png(300, 100)  # wide: the box's width decides
    context = sample_context(form)
    context["company"] = {**context["company"], "logo": logo}
    content = renderer(TEMPLATES / f"{form}.docx", context)
    [(blob, cx, cy)] = header_images(content)
    assert blob == logo
    mm = 36000  # EMU per millimetre
    assert cx == pytest.approx(26 * mm, rel=0.01) and cy == pytest.approx(cx / 3, rel=0.01)
    assert "LOGO" not in Document(io.BytesIO(content)).sections[0].header._element.xml


def test_a_tall_logo_fits_the_box_height_and_without_one_the_placeholder_stays():
    context = sample_context("ptpp")
    context["company"] = {**context["company"], "logo": png(100, 400)}
    [(_, cx, cy)] = header_images(render(TEMPLATES / "ptpp.docx", context))
    assert cy == pytest.approx(18 * 36000, rel=0.01) and cx == pytest.approx(cy / 4, rel=0.01)
    plain = render(TEMPLATES / "ptpp.docx", sample_context("ptpp"))
    assert header_images(plain) == []
    assert "LOGO" in Document(io.BytesIO(plain)).sections[0].header._element.xml


def test_logo_problems_are_named_with_what_to_do(tmp_path: Path):
    assert "cannot be read" in logo_problem(tmp_path / "missing.png")
    (tmp_path / "logo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a png")
    assert "not a PNG" in logo_problem(tmp_path / "logo.jpg")
    (tmp_path / "big.png").write_bytes(png(1, 1) + b"\0" * (1024 * 1024))
    assert "more than 1 MB" in logo_problem(tmp_path / "big.png")
    (tmp_path / "ok.png").write_bytes(png(10, 10))
    assert logo_problem(tmp_path / "ok.png") == ""


def test_the_configured_logo_reaches_the_forms_and_doctor_checks_it(tmp_path: Path):
    local = LocalApp(tmp_path)
    logo = tmp_path / "logo.png"
    logo.write_bytes(png(240, 120))
    text = local.config.read_text(encoding="utf-8")
    assert '# logo = "config/logo.png"' in text
    local.config.write_text(text.replace('# logo = "config/logo.png"', f'logo = "{logo}"'),
                            encoding="utf-8")
    settings = load_settings(local.config, {})
    assert settings.company.logo == logo
    store.open_database(settings.database_url)
    try:
        app = build_app(settings, clock=local.clock)
        facts = documents.FormFacts(number="001/PTPP/MKT/VII/2025",
                                    received_at=local.clock(), department="qc",
                                    category="", customer_name="Budi", customer_email="")
        _, content = documents.render_ptpp_from(app, facts, [], local.clock())
        assert [blob for blob, _, _ in header_images(content)] == [logo.read_bytes()]
        _, retur = documents.render_return_form_from(app, facts, local.clock())
        assert len(header_images(retur)) == 1
    finally:
        store.db.close()
    checks = {c.check: c for c in doctor._logo(settings, local.clock())}
    assert checks["company logo"].status == doctor.OK
    logo.write_bytes(b"GIF89a")
    assert doctor._logo(settings, local.clock())[0].status == doctor.FAIL

