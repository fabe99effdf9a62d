"""Compiled form templates (mailproc.forms.compiled) read exactly like docxtpl's rendering of
the same template and context: the same text in the body and the page header, the same
photos, the same values read back; the zip is valid; an edited template is picked up."""

from __future__ import annotations

import io
import shutil
import sys
import zipfile
from pathlib import Path

import docx
import pytest
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docfill import PTPP_ANSWERS, fill  # noqa: E402

from mailproc.forms import compiled  # noqa: E402
from mailproc.forms.catalogue import sample_context  # noqa: E402
from mailproc.forms.package import TemplateProblem  # noqa: E402
from mailproc.forms.readback import read_form  # noqa: E402
from mailproc.forms.render import render, render_with_docxtpl  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "doc_templates"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
TRICKY = "{{ x }} {% if %} A & B < C > D \"kutip\" 'satu'\nbaris dua\tdengan tab \x01\x0b akhir"


def png(width: int, height: int, shade: int = 200) -> bytes:
    import struct
    import zlib

    raw = b"".join(b"\x00" + bytes([shade, 80, 40]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PHOTOS = [("Foto 1: leher botol retak", png(40, 30)), ("Foto 2: label", png(30, 40, 90)),
          ("Foto 3: rusak", b"bukan gambar")]


def paragraphs(element: etree._Element) -> list[str]:
    """The text of every paragraph (tables and controls included), tabs and breaks marked."""
    out = []
    for p in element.iter(f"{W}p"):
        text = []
        for node in p.iter(f"{W}t", f"{W}tab", f"{W}br"):
            # Tabs and breaks as Word holds them (elements), apart from characters in a text.
            text.append(node.text or "" if node.tag == f"{W}t" else
                        "<tab/>" if node.tag == f"{W}tab" else "<br/>")
        out.append("".join(text))
    return out


def reading(content: bytes) -> dict[str, object]:
    """What a reader sees of a .docx: body and header text, the photos, the packaged parts."""
    assert zipfile.ZipFile(io.BytesIO(content)).testzip() is None
    document = docx.Document(io.BytesIO(content))
    headers = [paragraphs(s.header._element) for s in document.sections]
    images = sorted(part.blob for part in document.part.package.parts
                    if part.partname.startswith("/word/media/"))
    sizes = [(i.width, i.height) for i in document.inline_shapes]
    drawings = [e.get("id") for e in document.element.body.iter(f"{WP}docPr")]
    return {"body": paragraphs(document.element.body), "headers": headers,
            "images": images, "sizes": sizes, "drawing_ids": drawings}


@pytest.mark.parametrize("form", ["ptpp", "retur"])
def test_compiled_render_reads_like_docxtpl(form: str):
    context = sample_context(form)
    context["description"] = TRICKY
    context["customer"] = "PT <Maju> & Jaya {{ customer }}"
    images = PHOTOS if form == "ptpp" else ()
    ours = render(TEMPLATES / f"{form}.docx", context, images=images)
    theirs = render_with_docxtpl(TEMPLATES / f"{form}.docx", context, images=images)
    a, b = reading(ours), reading(theirs)
    assert a == b
    body = "\n".join(a["body"])  # type: ignore[arg-type]
    assert "{{ x }} {% if %} A & B < C > D" in body and "<br/>baris dua<tab/>dengan tab" in body
    assert read_form(ours).values == read_form(theirs).values
    if form == "ptpp":
        assert len(a["images"]) == 2 and len(a["sizes"]) == 2  # type: ignore[arg-type]
        assert "foto tidak dapat ditampilkan" in body


COMPANY = {"name": "PT Contoh & Rekan", "address": "Jl. Industri <Raya> No. 10"}
DOC = {"number": "FM-MR-16", "revision": "01", "revision_date": "18/09/2023"}
ACTION = {"no": 1, "cause": "Suhu {{ mesin }}", "corrective": "Kalibrasi\nulang",
          "preventive": "Cek & catat", "pic": "QC", "target": "05/11/2026"}
REPORT_CONTEXTS = {
    "closure": {
        "company": COMPANY, "doc": DOC, "ptpp_number": "001/PTPP/MKT/XI/2026",
        "date": "30/11/2026", "closing_date": "30/11/2026", "prepared_by": "Rina",
        "complaint": {"number": "KEL-2026-0001", "received": "02/11/2026",
                      "customer": "PT <Maju>", "channel": "email", "product": "Botol",
                      "batch": "LOT-1", "quantity": "35 pcs", "category": "Kualitas",
                      "department": "QC", "description": TRICKY},
        "cycles": [{"number": n, "correction": "Sortir", "whys": ["a", "b & c"],
                    "category_6m": "Mesin", "root_cause": f"Akar {n}", "actions": [ACTION],
                    "documents_revised": "SOP-01", "completion_date": "20/11/2026",
                    "completion_evidence": "Foto", "result": r, "note": "{% raw %}",
                    "verifier": "Manajer", "verification_date": "30/11/2026"}
                   for n, r in ((1, "Tidak efektif"), (2, "Efektif"))],
        "lead": {"first_response": "1 hari kerja", "analysis": "3 hari kerja",
                 "closing": "20 hari kerja"},
    },
    "recap": {
        "company": COMPANY, "doc": DOC, "period": "November 2026", "generated": "01/12/2026",
        "prepared_by": "", "summary": {"total": 3, "valid": 2, "closed": 1, "open": 1,
                                       "on_target_pct": "50% (1/2)", "median_days": "4,5"},
        "rows": [[f"{r}-{c} {{{{ x }}}} & <y>" if c % 3 else "" for c in range(19)]
                 for r in range(25)],
        "charts": [],
        "review": {"as_of": "30/11/2026", "ages": [1, 0, 2, 0],
                   "steps": [{"label": "Tanggapan pertama", "span": "a \u2192 b",
                              "target": "maks. 1 hari kerja", "done": 2, "median": "0,5",
                              "on_time": "2/2", "pct": "100%", "late_open": 0}],
                   "repeats": [{"number": "002/PTPP/MKT/XI/2026", "received": "03/11/2026",
                                "customer": "PT <Maju>", "product": "Botol\nLOT-1",
                                "repeat_of": "001/PTPP/MKT/X/2026", "status": "Ditutup"}]},
    },
}


@pytest.mark.parametrize("form", ["closure", "recap"])
def test_report_templates_read_like_docxtpl(form: str):
    context = REPORT_CONTEXTS[form]
    ours = render(TEMPLATES / f"{form}.docx", context)
    theirs = render_with_docxtpl(TEMPLATES / f"{form}.docx", context)
    assert reading(ours) == reading(theirs)


def test_filled_compiled_form_reads_back():
    form = render(TEMPLATES / "ptpp.docx", sample_context("ptpp"), images=PHOTOS[:2])
    values = read_form(fill(form, PTPP_ANSWERS)).values
    assert values["root_cause"] == PTPP_ANSWERS["root_cause"]


def test_the_same_photo_twice_is_one_media_part():
    content = render(TEMPLATES / "ptpp.docx", sample_context("ptpp"),
                     images=[("a", PHOTOS[0][1]), ("b", PHOTOS[0][1])])
    names = [n for n in zipfile.ZipFile(io.BytesIO(content)).namelist()
             if n.startswith("word/media/")]
    assert len(names) == 1
    assert len(docx.Document(io.BytesIO(content)).inline_shapes) == 2


def test_an_edited_template_is_compiled_again(tmp_path: Path):
    path = tmp_path / "form.docx"
    shutil.copy(TEMPLATES / "ptpp.docx", path)
    first = reading(render(path, sample_context("ptpp")))
    shutil.copy(TEMPLATES / "retur.docx", path)  # another form saved under the same name
    second = render(path, sample_context("retur"))
    assert reading(second) == reading(render_with_docxtpl(TEMPLATES / "retur.docx",
                                                          sample_context("retur")))
    assert reading(second) != first


def _with_tagged_title(source: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "docProps/core.xml":
                data = data.replace(b"<dc:title>", b"<dc:title>{{ ptpp_number }} ")
            zout.writestr(item, data)
    return out.getvalue()


def test_tags_in_the_properties_leave_the_template_to_docxtpl():
    data = _with_tagged_title(TEMPLATES / "ptpp.docx")
    with pytest.raises(compiled.NotCompilable):
        compiled.compile_template(data, lambda xml: xml)
    content = render(data, sample_context("ptpp"))
    title = docx.Document(io.BytesIO(content)).core_properties.title
    assert title.startswith("001/PTPP/MKT/XI/2026 ")


def test_template_errors_are_named_like_docxtpl_names_them():
    data = (TEMPLATES / "ptpp.docx").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item)
            if item.filename == "word/document.xml":
                body = body.replace(b"{{ ptpp_number }}", b"{{ ptpp_number | nosuchfilter }}", 1)
            zout.writestr(item, body)
    with pytest.raises(TemplateProblem, match="template: template error: .*nosuchfilter"):
        render(out.getvalue(), sample_context("ptpp"))


def test_strict_render_names_the_missing_variable():
    context = sample_context("ptpp")
    del context["reference"]
    with pytest.raises(TemplateProblem, match="reference"):
        render(TEMPLATES / "ptpp.docx", context, strict=True)
    render(TEMPLATES / "ptpp.docx", context)  # not strict: prints empty
