"""Test helpers for Word forms: fill content controls as Word does, strip them, make images,
read parts and their text back.

`fill(docx_bytes, values)` edits the XML the way Word saves a filled control: the text replaces
the placeholder run (keeping the control's run formatting), w:showingPlcHdr is removed, a date
picker gets w:fullDate and the text in dd/mm/yyyy, a dropdown its item's display text and
w:lastValue, a checkbox w14:checked and the ☒ / ☐ glyph.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _rewrite(content: bytes, edit: Callable[[str, etree._Element], None]) -> bytes:
    """Apply ``edit`` to the body, header and footer parts of a .docx and repack it."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if re.fullmatch(r"word/(document|header\d*|footer\d*)\.xml", info.filename):
                root = etree.fromstring(data)
                edit(info.filename, root)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                      standalone=True)
            dst.writestr(info, data)
    return out.getvalue()


def _set_text(sdt: etree._Element, text: str) -> None:
    content = sdt.find(w("sdtContent"))
    runs = content.findall(f".//{w('r')}")
    first = runs[0]
    for r in runs[1:]:
        r.getparent().remove(r)
    for child in list(first):
        if child.tag != w("rPr"):
            first.remove(child)
    rpr = first.find(w("rPr"))
    if rpr is not None:
        style = rpr.find(w("rStyle"))
        if style is not None:
            rpr.remove(style)
    for n, line in enumerate(text.split("\n")):
        if n:
            etree.SubElement(first, w("br"))
        t = etree.SubElement(first, w("t"))
        t.text = line
        t.set(XML_SPACE, "preserve")


def _set_control(sdt: etree._Element, value: str) -> None:
    pr = sdt.find(w("sdtPr"))
    box = pr.find(f"{{{W14}}}checkbox")
    if box is not None:
        on = value in ("1", "true", True)
        box.find(f"{{{W14}}}checked").set(f"{{{W14}}}val", "1" if on else "0")
        _set_text(sdt, "\u2612" if on else "\u2610")
        return
    marker = pr.find(w("showingPlcHdr"))
    if marker is not None:
        pr.remove(marker)
    date = pr.find(w("date"))
    if date is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        date.set(w("fullDate"), f"{value}T00:00:00Z")
        y, m, d = value.split("-")
        value = f"{d}/{m}/{y}"
    dropdown = pr.find(w("dropDownList"))
    if dropdown is not None:
        dropdown.set(w("lastValue"), value)
    _set_text(sdt, value)


def fill(content: bytes, values: Mapping[str, str]) -> bytes:
    """Fill controls by tag. Dates given as YYYY-MM-DD become a picked date (w:fullDate +
    dd/mm/yyyy text); other date strings are typed text. Checkboxes take '1' / '0'."""
    todo = dict(values)

    def edit(_: str, root: etree._Element) -> None:
        for sdt in root.iter(w("sdt")):
            tag = sdt.find(f"{w('sdtPr')}/{w('tag')}")
            if tag is not None and tag.get(w("val")) in values:
                _set_control(sdt, values[tag.get(w("val"))])
                todo.pop(tag.get(w("val")), None)

    result = _rewrite(content, edit)
    if todo:
        raise KeyError(f"no control with tag: {sorted(todo)}")
    return result


def fill_in_order(content: bytes, names: list[str], values: Mapping[str, str]) -> bytes:
    """Fill a form whose controls lost their tags (as LibreOffice saves them): the innermost
    controls, in document order, are the fields ``names`` in that order."""
    def edit(filename: str, root: etree._Element) -> None:
        if filename != "word/document.xml":
            return
        leaves = [s for s in root.iter(w("sdt")) if s.find(f".//{w('sdt')}") is None]
        if len(leaves) != len(names):
            raise AssertionError(f"{len(leaves)} controls for {len(names)} fields")
        for sdt, name in zip(leaves, names, strict=True):
            if name in values:
                _set_control(sdt, values[name])

    return _rewrite(content, edit)


def strip_controls(content: bytes) -> bytes:
    """Replace every content control by its content (as 'remove content control' in Word)."""
    def edit(_: str, root: etree._Element) -> None:
        for sdt in list(root.iter(w("sdt"))):
            parent = sdt.getparent()
            if parent is None:
                continue
            index = parent.index(sdt)
            content = sdt.find(w("sdtContent"))
            children = list(content) if content is not None else []
            parent.remove(sdt)
            for n, child in enumerate(children):
                parent.insert(index + n, child)

    # Nested controls: repeat until none is left.
    while b"<w:sdt>" in _part(content) or b"<w:sdt " in _part(content):
        content = _rewrite(content, edit)
    return content


def _part(content: bytes, name: str = "word/document.xml") -> bytes:
    return zipfile.ZipFile(io.BytesIO(content)).read(name)


NS = {"w": W, "w14": W14}


def part(content: bytes, name: str = "word/document.xml") -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(content)).read(name))


def header_names(content: bytes) -> list[str]:
    return [n for n in zipfile.ZipFile(io.BytesIO(content)).namelist()
            if re.fullmatch(r"word/header\d*\.xml", n)]


def visible_text(root: etree._Element) -> str:
    return "".join(t.text or "" for t in root.iter(f"{{{W}}}t"))


def edit_part(content: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """Rewrite one member's bytes (for building broken or hostile files)."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, change(data) if info.filename == name else data)
    return out.getvalue()


def png(width: int, height: int, seed: int = 0) -> bytes:
    """A small RGB gradient PNG, without any imaging library."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 255 // width + seed) % 256, (y * 255 // height) % 256,
                          (128 + seed) % 256))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


# A filled PTPP: plan, implementation and verification, every kind of control.
PTPP_ANSWERS: dict[str, str] = {
    "correction": "Sortir ulang 1.200 pcs di gudang pelanggan;\nbotol retak diganti.",
    "correction_date": "2026-11-26",
    "correction_by": "Tim QC (Andi)",
    "why_1": "Botol retak di bagian leher",
    "why_2": "Dinding leher terlalu tipis",
    "why_3": "Suhu cetakan turun di shift malam",
    "why_4": "Pengendali suhu tidak dikalibrasi",
    "why_5": "Jadwal kalibrasi tidak mencakup mesin 3",
    "category_6m": "Mesin",
    "root_cause": "Pengendali suhu mesin blow molding 3 tidak masuk jadwal kalibrasi & < 1x/tahun",
    "action_1_cause": "Suhu cetakan tidak stabil",
    "action_1_corrective": "Kalibrasi pengendali suhu mesin 3",
    "action_1_preventive": "Masukkan mesin 3 ke jadwal kalibrasi bulanan",
    "action_1_pic": "Supervisor Produksi",
    "action_1_target": "2026-12-05",
    "action_2_corrective": "Pelatihan operator shift malam",
    "action_2_pic": "HRD",
    "action_2_target": "15/12/2026",
    "documents_revised": "IK-PRD-07 rev. 03",
    "completion_date": "2026-12-10",
    "completion_evidence": "Sertifikat kalibrasi no. KAL/12/2026/031",
    "verification_result": "Efektif",
    "verification_note": "Tiga pengiriman berikutnya tanpa keluhan.",
    "verification_status": "Closed",
    "verification_date": "2027-01-15",
    "verifier": "Siti (Adm. Marketing)",
    "source_internal_audit": "1",
}

RETUR_ANSWERS: dict[str, str] = {
    "contact": "Budi Santoso",
    "po": "PO-7781",
    "item_1_name": "Botol PET 600 ml",
    "item_1_batch": "LOT-2611-07",
    "item_1_qty_sent": "1.200",
    "item_1_qty_return": "35",
    "item_1_unit": "pcs",
    "item_2_name": "Tutup botol 28 mm",
    "item_2_qty_return": "10",
    "reason_damaged": "1",
    "reason_other": "1",
    "reason_other_text": "Label luntur",
    "customer_note": "Barang siap diambil di gudang kami.",
    "qc_result": "35 botol retak di leher, sesuai keluhan.",
    "decision": "Disetujui",
    "decision_reason": "Cacat produksi",
    "settlement": "Ganti barang",
}
