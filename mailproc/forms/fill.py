"""Writing values into a form's content controls: mailproc's own entries on a form it keeps,
such as section C of a verified PTPP cycle (the result, the note, the verifier and "No. PTPP
baru"), written into the department's filled form so the archived record is the whole form.

Only controls whose tag names a given value change; everything else of the file (the
department's answers, its formatting, photos) is copied as it is. The input is a form mailproc
issued or already accepted (opened with `package.open_parts`' limits by the caller's reading);
must not render templates, read mail, or touch the database or the configuration.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

from lxml import etree

from mailproc.forms.package import SDT, SDT_CONTENT, SDT_PR, VAL, w

_PARTS = ("word/document.xml",)


def _run(text: str, props: etree._Element | None) -> list[etree._Element]:
    """Runs holding `text`, line breaks as w:br, with the control's own run properties minus
    the placeholder style."""
    run = etree.Element(w("r"))
    if props is not None:
        props = etree.fromstring(etree.tostring(props))
        for style in props.findall(w("rStyle")):
            if style.get(VAL) == "PlaceholderText":
                props.remove(style)
        if len(props):
            run.append(props)
    for i, line in enumerate(text.split("\n")):
        if i:
            etree.SubElement(run, w("br"))
        t = etree.SubElement(run, w("t"))
        t.text = line
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return [run]


def _fill(root: etree._Element, values: Mapping[str, str]) -> set[str]:
    filled: set[str] = set()
    for sdt in root.iter(SDT):
        pr = sdt.find(SDT_PR)
        tag = pr.find(w("tag")) if pr is not None else None
        name = tag.get(VAL) if tag is not None else None
        if name not in values or pr is None:
            continue
        content = sdt.find(SDT_CONTENT)
        if content is None:
            continue
        for marker in pr.findall(w("showingPlcHdr")):
            pr.remove(marker)
        first_run = content.find(".//" + w("r"))
        props = first_run.find(w("rPr")) if first_run is not None else None
        paragraph = content.find(w("p"))
        if paragraph is not None:  # a block control: keep its first paragraph's properties
            for extra in content.findall(w("p"))[1:]:
                content.remove(extra)
            for child in list(paragraph):
                if child.tag != w("pPr"):
                    paragraph.remove(child)
            paragraph.extend(_run(values[name], props))
        else:
            for child in list(content):
                content.remove(child)
            content.extend(_run(values[name], props))
        filled.add(name)
    return filled


def fill_controls(content: bytes, values: Mapping[str, str]) -> tuple[bytes, set[str]]:
    """`content` with the controls tagged by `values`' keys holding those values; returns the
    new file and the names that were found (a form without a control keeps the rest).
    Raises ValueError / zipfile.BadZipFile / KeyError for a file that is not a readable form."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    found: set[str] = set()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename in _PARTS:
                try:
                    root = etree.fromstring(data, parser)
                except etree.XMLSyntaxError as exc:
                    raise ValueError(f"{info.filename}: {exc}") from None
                found |= _fill(root, values)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                      standalone=True)
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue(), found
