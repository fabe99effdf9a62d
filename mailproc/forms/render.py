"""Rendering the form templates (PTPP, return claim, and the reports' Word templates).
Template and context in, .docx bytes out.

Templates are docxtpl templates. Each is compiled once per process and file version
(``mailproc.forms.compiled``: docxtpl's patching, Jinja's compile and the untouched zip members
kept), so a render costs a tenth of docxtpl's; the output reads the same as docxtpl's
(tests/unit/test_compiled.py compares them).

``render`` runs docxtpl with autoescape in Jinja's sandbox. Context values are
data: '{{ x }}', '{% if %}' or 'A & B < C' print exactly as written, in the body and in the
page header. Characters XML cannot hold are dropped from values. Text controls that render
empty show their placeholder, as Word shows an empty control.

Render context of ``ptpp.docx`` (FM-MR-15)::

    company        {name, address, logo}  logo: PNG bytes (company.logo), printed in the
                   header's logo box; absent or '' prints the "LOGO" placeholder
    doc            {number, revision, revision_date}  document control, from configuration
    ptpp_number    '001/PTPP/MKT/XI/2026'  (prefills the ptpp_number control)
    date           issue date, 'dd/mm/yyyy'
    to_department  Kepada          from_issuer  Dari           reference  complaint number
    cycle          int, 1 for the first analysis (prefills the cycle control)
    category_label complaint category, e.g. 'Kualitas produk'
    severity       'Mayor' | 'Minor' | 'Observasi'
    repeat_note    'Tidak', or 'Ya: … keluhan <number>' for a repeat complaint
    customer, product, batch, quantity, invoice, delivery_note, description
    photos         set by render from ``images``: [{image: InlineImage | '', caption: str}]
    photo_rows     set by render: photos two by two, for a two-column photo table
    previous       None, or {cycle, number (its PTPP number), root_cause, verification_note,
                   actions: [{no, cause, corrective, preventive, pic, target}]}

Render context of ``retur.docx`` (BKI.FM.MKT.06)::

    company, doc, claim_number, ptpp_number, date, customer, contact, po, delivery_note,
    invoice, description, items: [{name, batch, qty_sent, qty_return, unit}] (may be empty)

Must not read filled forms back (``readback``) or touch mail, the database or the
configuration.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import Markup, escape

from mailproc.domain import forms
from mailproc.forms import compiled
from mailproc.forms.package import (
    DEFAULT_PLACEHOLDER,
    PLACEHOLDERS_NORM,
    SDT,
    SDT_CONTENT,
    SDT_PR,
    VAL,
    TemplateProblem,
    control_kind,
    norm_text,
    visible_text,
    w,
)

# XML 1.0 cannot hold these; docxtpl would also turn \a and \f into paragraphs / page breaks.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _finalize(value: Any) -> Any:
    """Turn each printed value into escaped XML text that docxtpl leaves alone."""
    if isinstance(value, StrictUndefined):
        str(value)  # raises UndefinedError: render(strict=True) makes a missing variable an error
    if value is None or isinstance(value, Undefined):
        return ""
    if hasattr(value, "__html__"):  # InlineImage, RichText, Listing: already XML
        return value
    text = _XML_ILLEGAL.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    # Braces become character references: docxtpl rewrites '{_{' and friends in its output,
    # and a value must print exactly as written.
    return Markup(str(escape(text)).replace("{", "&#123;").replace("}", "&#125;"))


def _photo_size(caption: str, blob: bytes, width_mm: int) -> tuple[Any, int, int] | str:
    """The decoded header of a photo and its size in EMU, or the caption to show instead."""
    from docx.image.image import Image
    from docx.shared import Mm

    try:
        header = Image.from_blob(blob)  # reads the header only, not the pixels
        px_w, px_h = header.px_width, header.px_height
        if px_w <= 0 or px_h <= 0:
            raise ValueError("image without size")
    except Exception:  # noqa: BLE001 - untrusted bytes: python-docx's header parsers raise
        # a bare Exception (truncated JPEG), KeyError, struct.error, UnicodeDecodeError, their own
        # errors...; any failure means: show the caption only
        note = "foto tidak dapat ditampilkan (format tidak dikenali)"
        return f"{caption} \u2014 {note}" if caption else note
    # Fit a box of width x 0.8 width, so a portrait photo does not take a whole page.
    width = Mm(width_mm)
    height = int(width * px_h / px_w)
    if height > width * 0.8:
        height = int(width * 0.8)
        width = int(height * px_w / px_h)
    return header, int(width), int(height)


def _photo(tpl: Any, caption: str, blob: bytes, width_mm: int) -> dict[str, Any]:
    """A photo for docxtpl (``tpl``: a DocxTemplate) or for a compiled render (``tpl``: its
    ``compiled.Media``)."""
    sized = _photo_size(caption, blob, width_mm)
    if isinstance(sized, str):
        return {"image": "", "caption": sized}
    header, width, height = sized
    if isinstance(tpl, compiled.Media):
        return {"image": compiled.Picture(blob, header.ext, header.content_type, width, height,
                                          tpl), "caption": caption}
    from docxtpl import InlineImage

    return {"image": InlineImage(tpl, io.BytesIO(blob), width=width, height=height),
            "caption": caption}


# The logo cell of the controlled-document header: 30 mm wide, four 5.2 mm rows.
LOGO_BOX_MM = (26.0, 18.0)


def _logo(holder: Any, blob: bytes) -> Any:
    """The company logo fitted into the header's logo box; '' when it cannot be decoded (the
    template then prints its "LOGO" placeholder)."""
    from docx.image.image import Image
    from docx.shared import Mm

    try:
        header = Image.from_blob(blob)
        px_w, px_h = header.px_width, header.px_height
        if px_w <= 0 or px_h <= 0:
            raise ValueError("image without size")
    except Exception:  # noqa: BLE001 - python-docx's header parsers raise many kinds
        return ""
    box_w, box_h = (int(Mm(v)) for v in LOGO_BOX_MM)
    scale = min(box_w / px_w, box_h / px_h)
    width, height = int(px_w * scale), int(px_h * scale)
    if isinstance(holder, compiled.Media):
        return compiled.Picture(blob, header.ext, header.content_type, width, height, holder)
    from docxtpl import InlineImage

    return InlineImage(holder, io.BytesIO(blob), width=width, height=height)


def _with_photos(context: Mapping[str, Any], holder: Any,
                 images: Sequence[tuple[str, bytes]], width_mm: int) -> dict[str, Any]:
    """The context plus `photos` and `photo_rows` (two by two), see the module docstring;
    `company.logo` given as PNG bytes becomes the picture the header prints."""
    ctx = dict(context)
    company = ctx.get("company")
    if isinstance(company, Mapping) and isinstance(company.get("logo"), bytes | bytearray):
        ctx["company"] = {**company, "logo": _logo(holder, bytes(company["logo"]))}
    photos = [_photo(holder, caption, blob, width_mm) for caption, blob in images]
    ctx["photos"] = photos
    ctx["photo_rows"] = [photos[i:i + 2] for i in range(0, len(photos), 2)]
    return ctx


def _open_template(template: Path | bytes) -> Any:
    from docxtpl import DocxTemplate

    if isinstance(template, bytes | bytearray):
        return DocxTemplate(io.BytesIO(bytes(template)))
    return DocxTemplate(str(_template_path(template)))


def _template_path(template: Path | bytes) -> Path:
    path = Path(template)  # type: ignore[arg-type]
    if path.is_dir():
        raise TemplateProblem(f"{path}: is a folder, not a .docx form template")
    if not path.is_file():
        raise TemplateProblem(f"{path}: form template not found")
    return path


def template_name(template: Path | bytes) -> str:
    """How messages name a template: its file name, or 'template' for bytes."""
    return "template" if isinstance(template, bytes | bytearray) else Path(template).name


_ENVS: dict[bool, SandboxedEnvironment] = {}


def environment(strict: bool = False) -> SandboxedEnvironment:
    """The sandboxed, autoescaping Jinja environment forms are rendered in (one per process,
    so its compiled templates are reused)."""
    env = _ENVS.get(strict)
    if env is None:
        env = _ENVS[strict] = SandboxedEnvironment(
            autoescape=True, finalize=_finalize,
            undefined=StrictUndefined if strict else Undefined)
    return env


def _docxtpl_helpers() -> Any:
    # docxtpl's own patching and post-processing, so a compiled render reads exactly as a
    # docxtpl render; its methods used here do not touch the instance.
    from docxtpl import DocxTemplate

    global _HELPER
    if _HELPER is None:
        _HELPER = DocxTemplate(None)  # type: ignore[arg-type]
    return _HELPER


_HELPER: Any = None


def _unreadable(name: str, exc: Exception) -> TemplateProblem:
    return TemplateProblem(f"{name}: not a readable .docx template ({exc}); save it again "
                           "from Word as .docx, or take the shipped one from `mailproc "
                           "templates export DIR`")


def _compiled(template: Path | bytes) -> compiled.CompiledTemplate | None:
    name = template_name(template)
    helper = _docxtpl_helpers()
    try:
        if isinstance(template, bytes | bytearray):
            data = bytes(template)
            return compiled.cached(compiled.bytes_key(data), lambda: data, helper.patch_xml,
                                   _show_placeholders)
        path = _template_path(template)
        return compiled.cached(compiled.path_key(path), path.read_bytes, helper.patch_xml,
                               _show_placeholders)
    except TemplateProblem:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise _unreadable(name, exc) from exc


def _template_error(name: str, exc: TemplateError, source: str | None = None) -> TemplateProblem:
    where = " / ".join(s.strip() for s in getattr(exc, "docx_context", ()) if s.strip())
    if not where and source is not None and getattr(exc, "lineno", None) is not None:
        # As docxtpl words it: the text of the paragraphs around the failing line.
        first = max(exc.lineno - 4, 0)  # type: ignore[attr-defined]
        lines = source.splitlines()[first:first + 7]
        where = " / ".join(t for t in (re.sub(r"<[^>]+>", "", x).strip() for x in lines) if t)
    return TemplateProblem(
        f"{name}: template error: {exc}" + (f" near: {where[:200]}" if where else ""))


def render(template: Path | bytes, context: Mapping[str, Any], *,
           images: Sequence[tuple[str, bytes]] = (), image_width_mm: int = 70,
           strict: bool = False) -> bytes:
    """Render a form template with ``context`` (see the module docstring) and return .docx
    bytes. ``images`` are (caption, content) pairs shown as evidence photos; one that cannot
    be decoded is left out and its caption says so. ``strict`` makes a variable the context
    does not have an error instead of empty text (the checks use it).

    The template is compiled once per file version (``mailproc.forms.compiled``); a template
    that needs docxtpl's full machinery (tags in its properties or footnotes) is rendered by
    docxtpl, with the same result."""
    plan = _compiled(template)
    if plan is None:
        return render_with_docxtpl(template, context, images=images,
                                   image_width_mm=image_width_mm, strict=strict)
    name = template_name(template)
    helper = _docxtpl_helpers()
    media = compiled.Media(plan)
    ctx = _with_photos(context, media, images, image_width_mm)
    env = environment(strict)
    part = plan.parts[0]
    try:
        for part in plan.parts:
            plan.template(part, env)  # compile errors name the part's text
        return compiled.render_compiled(plan, env, ctx, media=media,
                                        resolve_listing=helper.resolve_listing,
                                        fix_tables=helper.fix_tables,
                                        finish_body=_show_placeholders)
    except TemplateError as exc:
        raise _template_error(name, exc, part.source) from exc
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise TemplateProblem(f"{name}: rendering gave invalid Word XML: {exc}") from exc


def render_with_docxtpl(template: Path | bytes, context: Mapping[str, Any], *,
                        images: Sequence[tuple[str, bytes]] = (), image_width_mm: int = 70,
                        strict: bool = False) -> bytes:
    """``render`` through docxtpl's own render and save (templates ``compiled`` leaves to
    docxtpl; the tests compare both)."""
    from docx.opc.exceptions import PackageNotFoundError

    name = template_name(template)
    try:
        tpl = _open_template(template)
        tpl.init_docx()
    except TemplateProblem:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError,
            PackageNotFoundError) as exc:
        # PackageNotFoundError: python-docx's word for a file that is not a .docx (zip) at all.
        raise _unreadable(name, exc) from exc
    ctx = _with_photos(context, tpl, images, image_width_mm)
    try:
        tpl.render(ctx, jinja_env=environment(strict), autoescape=True)
    except TemplateError as exc:
        raise _template_error(name, exc) from exc
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise TemplateProblem(f"{name}: rendering gave invalid Word XML: {exc}") from exc
    _show_placeholders(tpl.docx.element.body)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def _show_placeholders(body: etree._Element) -> None:
    """A prefilled control that rendered empty (or to a placeholder text) shows a grey
    placeholder marked w:showingPlcHdr, like an empty control in Word."""
    shown = w("showingPlcHdr")
    for sdt in body.iter(SDT):
        pr = sdt.find(SDT_PR)
        content = sdt.find(SDT_CONTENT)
        # Already showing its placeholder (cheapest test first: a compiled template's fixed
        # empty controls are marked once, when it is compiled).
        if pr is None or content is None or pr.find(shown) is not None:
            continue
        if control_kind(pr) == forms.CHECKBOX or content.find(f".//{SDT}") is not None:
            continue
        text = visible_text(content).strip()
        if text and norm_text(text) not in PLACEHOLDERS_NORM:
            continue
        runs = content.findall(f".//{w('r')}")
        if not runs:
            continue
        if not text:
            first_t = runs[0].find(w("t"))
            if first_t is None:
                first_t = etree.SubElement(runs[0], w("t"))
            first_t.text = DEFAULT_PLACEHOLDER
        for r in runs:
            rpr = r.find(w("rPr"))
            if rpr is None:
                rpr = etree.Element(w("rPr"))
                r.insert(0, rpr)
            if rpr.find(w("rStyle")) is None:
                rpr.insert(0, etree.Element(w("rStyle"), {VAL: "PlaceholderText"}))
        marker = etree.Element(w("showingPlcHdr"))
        # Schema order: after alias/tag/id/lock/placeholder/temporary, before the type.
        anchor = None
        for tag in ("temporary", "placeholder", "lock", "id", "tag", "alias", "rPr"):
            anchor = pr.find(w(tag))
            if anchor is not None:
                break
        if anchor is None:
            pr.insert(0, marker)
        else:
            anchor.addnext(marker)

