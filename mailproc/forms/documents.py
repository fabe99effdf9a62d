"""Word forms: render the PTPP / return-claim templates, read filled forms back. Bytes in,
bytes out: no mail, no database, no configuration.

Rendering (``render``) runs docxtpl with autoescape in Jinja's sandbox. Context values are
data: '{{ x }}', '{% if %}' or 'A & B < C' print exactly as written, in the body and in the
page header. Characters XML cannot hold are dropped from values. Text controls that render
empty show their placeholder, as Word shows an empty control.

Render context of ``ptpp.docx`` (FM-MR-15)::

    company        {name, address}
    doc            {number, revision, revision_date}  document control, from configuration
    ptpp_number    '001/PTPP/MKT/XI/2026'  (prefills the ptpp_number control)
    date           issue date, 'dd/mm/yyyy'
    to_department  Kepada          from_issuer  Dari           reference  complaint number
    cycle          int, 1 for the first analysis (prefills the cycle control)
    category_label complaint category, e.g. 'Kualitas produk'
    severity       'Mayor' | 'Minor' | 'Observasi'
    customer, product, batch, quantity, invoice, delivery_note, description
    photos         set by render from ``images``: [{image: InlineImage | '', caption: str}]
    photo_rows     set by render: photos two by two, for a two-column photo table
    previous       None, or {cycle, root_cause, verification_note,
                   actions: [{no, cause, corrective, preventive, pic, target}]}

Render context of ``retur.docx`` (BKI.FM.MKT.06)::

    company, doc, claim_number, ptpp_number, date, customer, contact, po, delivery_note,
    invoice, description, items: [{name, batch, qty_sent, qty_return, unit}] (may be empty)

Reading (``read_form``) never trusts the file: it sniffs the type by magic bytes, checks the
zip's declared sizes, member count and compression ratios before reading any member, parses
XML without entities or DTDs, and only then looks for the fields. Each field is found by the
content control's tag, else its alias, else by the label printed next to it (LibreOffice drops
tags and some aliases on save; a form can also reach us with its controls removed).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from markupsafe import Markup, escape

from mailproc.domain import forms
from mailproc.domain.forms import FieldSpec
from mailproc.errors import MailprocError

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
HEADER_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
FOOTER_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


SDT, SDT_PR, SDT_CONTENT = _w("sdt"), _w("sdtPr"), _w("sdtContent")
TBL, TR, TC, P = _w("tbl"), _w("tr"), _w("tc"), _w("p")
VAL = _w("val")

# Placeholder texts: ours, and Word's defaults in English and Indonesian. LibreOffice drops
# w:showingPlcHdr, so a control still showing one of these is read as empty.
PLACEHOLDERS = (
    "Klik untuk mengisi", "\u2026", "dd/mm/yyyy", "Pilih salah satu",
    "Click or tap here to enter text.", "Click or tap to enter a date.", "Choose an item.",
    "Click here to enter text.", "Click here to enter a date.",
    "Klik atau ketuk di sini untuk memasukkan teks.",
    "Klik atau ketuk untuk memasukkan tanggal.", "Pilih item.",
)
DEFAULT_PLACEHOLDER = PLACEHOLDERS[0]
CHECKED_GLYPHS = "\u2612\u2611\u2713\u2714\u2717\u2718"  # ☒ ☑ ✓ ✔ ✗ ✘
UNCHECKED_GLYPHS = "\u2610"  # ☐
_FILLER = re.compile(r"[\s._\-\u2026\u2013\u2014]*")  # dotted lines count as empty


# ---- errors -------------------------------------------------------------------------------


class DocumentError(MailprocError):
    """A received file cannot be read as a form. ``reply_id`` is a short Indonesian
    explanation for the sender; ``manual_entry`` means a person can still transcribe it
    (a PDF or a photo of a printed form): route it to marketing administration."""

    manual_entry: bool = False

    def __init__(self, message: str, reply_id: str, *, manual_entry: bool | None = None) -> None:
        super().__init__(message)
        self.reply_id = reply_id
        if manual_entry is not None:
            self.manual_entry = manual_entry


class UnsupportedDocument(DocumentError):
    """Not a Word .docx: legacy .doc, PDF, an image, plain text, another archive."""


class MacroDocument(DocumentError):
    """A macro-enabled Word file (.docm); never opened."""


class CorruptDocument(DocumentError):
    """A .docx that is damaged: bad or truncated zip, missing main part, malformed XML."""


class UnsafeDocument(DocumentError):
    """A file built to exhaust resources: zip bomb, too many or too large members, DTDs."""


class TemplateProblem(MailprocError):
    """A form template cannot be rendered (missing file, broken Jinja, invalid result).
    The message names the template and, where docxtpl knows it, the text around the error."""

    exit_code = 2


@dataclass(frozen=True)
class Limits:
    max_uncompressed_bytes: int = 50 * 1024 * 1024
    max_members: int = 2000
    max_ratio: int = 100  # checked on members over 1 MiB: small parts cannot bomb
    max_xml_part_bytes: int = 10 * 1024 * 1024  # one XML part we parse


# ---- sniffing -----------------------------------------------------------------------------

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_IMAGE_MAGICS = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM",
                 b"II*\x00", b"MM\x00*")
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic",
              ".heif")


def _is_image(content: bytes) -> bool:
    if content.startswith(_IMAGE_MAGICS):
        return True
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return True
    # HEIC/HEIF/AVIF from phones: an ISO-BMFF 'ftyp' box naming an image brand.
    return content[4:8] == b"ftyp" and content[8:12] in (b"heic", b"heix", b"mif1", b"msf1",
                                                        b"avif", b"hevc")


def sniff(filename: str, content: bytes) -> str:
    """'docx' | 'docm' | 'doc' | 'pdf' | 'image' | 'zip' | 'other': magic bytes first, the
    name only when the bytes say nothing. Reads a zip's directory, never its members."""
    name = filename.lower()
    if content.startswith(_OLE):
        return "doc"  # Word 97-2003, or a password-protected .docx (also an OLE container)
    if b"%PDF-" in content[:1024]:
        return "pdf"
    if _is_image(content):
        return "image"
    if content.startswith(_ZIP_MAGICS):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error,
                NotImplementedError):
            return "docx" if name.endswith((".docx", ".dotx")) else "zip"
        if "word/vbaProject.bin" in names or name.endswith((".docm", ".dotm")):
            return "docm"
        if "word/document.xml" in names or name.endswith((".docx", ".dotx")):
            return "docx"
        return "zip"
    if name.endswith((".docx", ".dotx")):
        return "docx"  # not a zip at all: read_form reports it damaged
    if name.endswith((".docm", ".dotm")):
        return "docm"
    if name.endswith((".doc", ".dot")):
        return "doc"
    if name.endswith(".pdf"):
        return "pdf"
    if name.endswith(_IMAGE_EXT):
        return "image"
    return "other"


# ---- rendering ----------------------------------------------------------------------------

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


def _photo(tpl: Any, caption: str, blob: bytes, width_mm: int) -> dict[str, Any]:
    from docx.image.image import Image
    from docx.shared import Mm
    from docxtpl import InlineImage

    try:
        header = Image.from_blob(blob)  # reads the header only, not the pixels
        px_w, px_h = header.px_width, header.px_height
        if px_w <= 0 or px_h <= 0:
            raise ValueError("image without size")
    except Exception:  # any failure on an untrusted image means: show the caption only
        note = "foto tidak dapat ditampilkan (format tidak dikenali)"
        return {"image": "", "caption": f"{caption} \u2014 {note}" if caption else note}
    # Fit a box of width x 0.8 width, so a portrait photo does not take a whole page.
    width = Mm(width_mm)
    height = int(width * px_h / px_w)
    if height > width * 0.8:
        height = int(width * 0.8)
        width = int(height * px_w / px_h)
    return {"image": InlineImage(tpl, io.BytesIO(blob), width=width, height=height),
            "caption": caption}


def _open_template(template: Path | bytes) -> Any:
    from docxtpl import DocxTemplate

    if isinstance(template, bytes | bytearray):
        return DocxTemplate(io.BytesIO(bytes(template)))
    path = Path(template)
    if path.is_dir():
        raise TemplateProblem(f"{path}: is a folder, not a .docx form template")
    if not path.is_file():
        raise TemplateProblem(f"{path}: form template not found")
    return DocxTemplate(str(path))


def _template_name(template: Path | bytes) -> str:
    return "template" if isinstance(template, bytes | bytearray) else Path(template).name


def render(template: Path | bytes, context: Mapping[str, Any], *,
           images: Sequence[tuple[str, bytes]] = (), image_width_mm: int = 70,
           strict: bool = False) -> bytes:
    """Render a form template with ``context`` (see the module docstring) and return .docx
    bytes. ``images`` are (caption, content) pairs shown as evidence photos; one that cannot
    be decoded is left out and its caption says so. ``strict`` makes a variable the context
    does not have an error instead of empty text (the checks use it)."""
    from docx.opc.exceptions import PackageNotFoundError

    name = _template_name(template)
    try:
        tpl = _open_template(template)
        tpl.init_docx()
    except TemplateProblem:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError,
            PackageNotFoundError) as exc:
        # PackageNotFoundError: python-docx's word for a file that is not a .docx (zip) at all.
        raise TemplateProblem(f"{name}: not a readable .docx template ({exc}); save it again "
                              "from Word as .docx, or take the shipped one from `mailproc "
                              "templates export DIR`") from exc
    ctx = dict(context)
    photos = [_photo(tpl, caption, blob, image_width_mm) for caption, blob in images]
    ctx["photos"] = photos
    ctx["photo_rows"] = [photos[i:i + 2] for i in range(0, len(photos), 2)]
    env = SandboxedEnvironment(autoescape=True, finalize=_finalize,
                               undefined=StrictUndefined if strict else Undefined)
    try:
        tpl.render(ctx, jinja_env=env, autoescape=True)
    except TemplateError as exc:
        where = " / ".join(s.strip() for s in getattr(exc, "docx_context", ()) if s.strip())
        raise TemplateProblem(
            f"{name}: template error: {exc}" + (f" near: {where[:200]}" if where else "")
        ) from exc
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise TemplateProblem(f"{name}: rendering gave invalid Word XML: {exc}") from exc
    _show_placeholders(tpl.docx.element.body)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def _show_placeholders(body: etree._Element) -> None:
    """A prefilled control that rendered empty (or to a placeholder text) shows a grey
    placeholder marked w:showingPlcHdr, like an empty control in Word."""
    for sdt in body.iter(SDT):
        pr = sdt.find(SDT_PR)
        content = sdt.find(SDT_CONTENT)
        if pr is None or content is None or _control_kind(pr) == forms.CHECKBOX:
            continue
        if pr.find(_w("showingPlcHdr")) is not None or content.find(f".//{SDT}") is not None:
            continue
        text = _text(content).strip()
        if text and _norm_text(text) not in _PLACEHOLDERS_NORM:
            continue
        runs = content.findall(f".//{_w('r')}")
        if not runs:
            continue
        if not text:
            first_t = runs[0].find(_w("t"))
            if first_t is None:
                first_t = etree.SubElement(runs[0], _w("t"))
            first_t.text = DEFAULT_PLACEHOLDER
        for r in runs:
            rpr = r.find(_w("rPr"))
            if rpr is None:
                rpr = etree.Element(_w("rPr"))
                r.insert(0, rpr)
            if rpr.find(_w("rStyle")) is None:
                rpr.insert(0, etree.Element(_w("rStyle"), {VAL: "PlaceholderText"}))
        marker = etree.Element(_w("showingPlcHdr"))
        # Schema order: after alias/tag/id/lock/placeholder/temporary, before the type.
        anchor = None
        for tag in ("temporary", "placeholder", "lock", "id", "tag", "alias", "rPr"):
            anchor = pr.find(_w(tag))
            if anchor is not None:
                break
        if anchor is None:
            pr.insert(0, marker)
        else:
            anchor.addnext(marker)


# ---- safe package reading -----------------------------------------------------------------


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           load_dtd=False, dtd_validation=False, remove_comments=True)


_REPLY_CORRUPT = ("Lampiran .docx tidak dapat dibuka karena rusak atau tidak lengkap; mohon "
                  "simpan ulang formulir di Word lalu kirim kembali.")
_REPLY_UNSAFE = ("Lampiran tidak dapat diproses karena struktur berkasnya tidak wajar; mohon "
                 "simpan ulang formulir di Word sebagai .docx lalu kirim kembali.")


class _Package:
    """The members of a .docx zip, read only after the declared sizes passed the limits."""

    def __init__(self, content: bytes, limits: Limits) -> None:
        self.limits = limits
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(content))
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error,
                NotImplementedError) as exc:
            raise CorruptDocument(f"not a readable zip: {exc}", _REPLY_CORRUPT) from exc
        if len(infos) > limits.max_members:
            raise UnsafeDocument(f"{len(infos)} zip members (limit {limits.max_members})",
                                 _REPLY_UNSAFE)
        total = 0
        for info in infos:
            total += info.file_size
            if info.flag_bits & 0x1:
                raise CorruptDocument(f"encrypted zip member {info.filename}", _REPLY_CORRUPT)
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > limits.max_ratio:
                raise UnsafeDocument(
                    f"member {info.filename} expands {ratio:.0f}x (limit {limits.max_ratio}x)",
                    _REPLY_UNSAFE)
        if total > limits.max_uncompressed_bytes:
            raise UnsafeDocument(
                f"{total} bytes uncompressed (limit {limits.max_uncompressed_bytes})",
                _REPLY_UNSAFE)
        self.infos = {info.filename: info for info in infos}
        self._read: dict[str, bytes] = {}  # the DTD scan and the parse read the same parts

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        if name in self._read:
            return self._read[name]
        info = self.infos[name]
        if info.file_size > self.limits.max_xml_part_bytes:
            raise UnsafeDocument(f"part {name} is {info.file_size} bytes", _REPLY_UNSAFE)
        try:
            with self.zf.open(info) as fh:
                # Never trust the declared size: read at most one byte more than allowed.
                data = fh.read(self.limits.max_xml_part_bytes + 1)
        except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, OSError,
                NotImplementedError) as exc:
            raise CorruptDocument(f"part {name} cannot be decompressed: {exc}",
                                  _REPLY_CORRUPT) from exc
        if len(data) > self.limits.max_xml_part_bytes:
            raise UnsafeDocument(f"part {name} is larger than declared", _REPLY_UNSAFE)
        self._read[name] = data
        return data

    def xml(self, name: str) -> etree._Element:
        data = self.read(name)
        head = data[:4096].lstrip(b"\xef\xbb\xbf")
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise UnsafeDocument(f"part {name} declares a DTD", _REPLY_UNSAFE)
        try:
            root = etree.fromstring(data, _parser())
        except etree.XMLSyntaxError as exc:
            raise CorruptDocument(f"part {name} is not well-formed XML: {exc}",
                                  _REPLY_CORRUPT) from exc
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise UnsafeDocument(f"part {name} declares a DTD", _REPLY_UNSAFE)
        return root


def _resolve(base_dir: str, target: str) -> str:
    parts = [] if target.startswith("/") else [p for p in base_dir.split("/") if p]
    for piece in target.lstrip("/").split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _rels(pkg: _Package, part: str) -> list[tuple[str, str]]:
    """(type, resolved target) of a part's internal relationships."""
    folder, _, name = part.rpartition("/")
    rels_name = f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"
    if not pkg.has(rels_name):
        return []
    out = []
    for rel in pkg.xml(rels_name).iter(f"{{{REL}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        out.append((rel.get("Type", ""), _resolve(folder, rel.get("Target", ""))))
    return out


def _open_parts(content: bytes, limits: Limits, filename: str = "") -> list[etree._Element]:
    """Safety checks, then the main document part, headers and footers as XML trees."""
    kind = sniff(filename, content)
    if kind == "doc":
        raise UnsupportedDocument(
            "legacy Word 97-2003 (.doc) or password-protected file",
            "Lampiran berformat .doc (Word 97-2003) atau dilindungi kata sandi sehingga tidak "
            "dapat dibaca; mohon simpan sebagai .docx tanpa kata sandi lalu kirim ulang.")
    if kind == "pdf":
        raise UnsupportedDocument(
            "PDF", "Lampiran berformat PDF tidak dapat dibaca otomatis; formulir akan kami "
            "salin secara manual. Untuk berikutnya mohon kirim formulir dalam format Word "
            "(.docx).", manual_entry=True)
    if kind == "image":
        raise UnsupportedDocument(
            "image", "Lampiran berupa gambar/foto formulir tidak dapat dibaca otomatis; "
            "formulir akan kami salin secara manual. Untuk berikutnya mohon kirim formulir "
            "dalam format Word (.docx).", manual_entry=True)
    if kind == "docm":
        raise MacroDocument(
            "macro-enabled Word file",
            "Lampiran berformat .docm (berisi makro) tidak kami buka demi keamanan; mohon "
            "simpan sebagai Dokumen Word (.docx) lalu kirim ulang.")
    if kind == "other":
        raise UnsupportedDocument(
            "not a Word document", "Lampiran bukan dokumen Word (.docx); mohon kirim "
            "formulir dalam format Word (.docx).")
    pkg = _Package(content, limits)
    main = next((t for typ, t in _rels(pkg, "") if typ == OFFICE_DOC), "word/document.xml")
    if not pkg.has(main):
        if kind == "zip" and not pkg.has("[Content_Types].xml"):
            raise UnsupportedDocument(
                "zip archive that is not a Word document", "Lampiran berupa arsip ZIP, bukan "
                "dokumen Word; mohon kirim formulir sebagai berkas .docx.")
        raise CorruptDocument(f"no main document part ({main})", _REPLY_CORRUPT)
    if pkg.has("[Content_Types].xml"):
        types = pkg.xml("[Content_Types].xml")
        for el in types.iter(f"{{{CT}}}Override", f"{{{CT}}}Default"):
            if "macroenabled" in el.get("ContentType", "").lower():
                raise MacroDocument(
                    "macro-enabled content type",
                    "Lampiran adalah dokumen Word dengan makro; mohon simpan sebagai Dokumen "
                    "Word (.docx) lalu kirim ulang.")
    if any(name.lower().endswith("vbaproject.bin") for name in pkg.infos):
        raise MacroDocument("contains vbaProject.bin",
                            "Lampiran berisi makro; mohon simpan sebagai Dokumen Word (.docx) "
                            "lalu kirim ulang.")
    # Every XML part is checked for DTDs, also those we do not read: others will open it.
    for name, info in pkg.infos.items():
        if name.endswith((".xml", ".rels")) and info.file_size <= limits.max_xml_part_bytes:
            head = pkg.read(name)[:4096]
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise UnsafeDocument(f"part {name} declares a DTD", _REPLY_UNSAFE)
    parts = [pkg.xml(main)]
    for typ, target in _rels(pkg, main):
        if typ in (HEADER_REL, FOOTER_REL) and pkg.has(target):
            parts.append(pkg.xml(target))
    if parts[0].find(_w("body")) is None:
        raise CorruptDocument("main part has no w:body", _REPLY_CORRUPT)
    return parts


# ---- text and controls --------------------------------------------------------------------

_SKIP = {_w("pPr"), _w("rPr"), SDT_PR, _w("sdtEndPr"), _w("tblPr"), _w("trPr"), _w("tcPr"),
         _w("del"), _w("moveFrom"), f"{{{MC}}}Fallback", _w("instrText")}


def _text(el: etree._Element) -> str:
    """Visible text: w:t, w:br/w:cr as newline, w:tab as tab, paragraphs on their own lines;
    deleted text (w:del / w:delText) and field codes are not content."""
    out: list[str] = []

    def walk(node: etree._Element) -> None:
        for child in node:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == _w("t"):
                out.append(child.text or "")
            elif tag in (_w("br"), _w("cr")):
                out.append("\n")
            elif tag == _w("tab"):
                out.append("\t")
            elif tag == P:
                if out and not out[-1].endswith("\n"):
                    out.append("\n")
                walk(child)
                out.append("\n")
            else:
                walk(child)

    walk(el)
    return "".join(out).strip("\n")


def _norm_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def _norm_label(text: str) -> str:
    """'No. PTPP :' -> 'no ptpp'; '(hints)' in a label are ignored."""
    text = re.sub(r"\([^)]*\)", " ", text.casefold())
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


_PLACEHOLDERS_NORM = frozenset(_norm_text(p) for p in PLACEHOLDERS)


def _is_placeholder(text: str) -> bool:
    return not text or _FILLER.fullmatch(text) is not None or (
        _norm_text(text) in _PLACEHOLDERS_NORM)


def _control_kind(pr: etree._Element) -> str:
    if pr.find(f"{{{W14}}}checkbox") is not None:
        return forms.CHECKBOX
    if pr.find(_w("date")) is not None:
        return forms.DATE
    if pr.find(_w("dropDownList")) is not None or pr.find(_w("comboBox")) is not None:
        return forms.DROPDOWN
    if pr.find(_w("text")) is not None:
        return forms.TEXT
    return "richtext"


def _checkbox_value(sdt: etree._Element) -> str:
    for checked in sdt.iter(f"{{{W14}}}checked"):
        val = (checked.get(f"{{{W14}}}val") or "1").lower()
        return "1" if val in ("1", "true", "on") else "0"
    text = _text(sdt.find(SDT_CONTENT) if sdt.find(SDT_CONTENT) is not None else sdt)
    return "1" if any(g in text for g in CHECKED_GLYPHS) else "0"


def _known_specs() -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for fields in forms.FORMS.values():
        for spec in fields:
            specs.setdefault(spec.name, spec)
    return specs


_SPECS = _known_specs()
_TABLE_FIELD = re.compile(r"(action|item)_\d+_\w+")
_LABELS = {_norm_label(s.label): s.name for s in _SPECS.values()
           if s.kind != forms.CHECKBOX and not _TABLE_FIELD.fullmatch(s.name)}
_BOX_LABELS = {_norm_label(s.label): s.name for s in _SPECS.values() if s.kind == forms.CHECKBOX}
_COLUMNS = {
    "action": {_norm_label(label): key for key, label in forms.ACTION_COLUMNS},
    "item": {_norm_label(label): key for key, label in forms.ITEM_COLUMNS},
}


def _row_cells(tr: etree._Element) -> list[etree._Element]:
    # Cells of a row, also those wrapped in a row-level content control.
    return [tc for tc in tr.iter(TC) if tc.getparent() is not None
            and _ancestor(tc, TR) is tr]


def _ancestor(el: etree._Element, tag: str) -> etree._Element | None:
    node = el.getparent()
    while node is not None and node.tag != tag:
        node = node.getparent()
    return node


def _table_columns(row: list[str]) -> tuple[str, dict[int, str]] | None:
    """A header row of the action or items table: (prefix, {cell index: column key})."""
    for prefix, columns in _COLUMNS.items():
        mapping = {i: columns[label] for i, label in enumerate(row) if label in columns}
        if len(mapping) >= 3:
            return prefix, mapping
    return None


def _grid_field(tr: etree._Element, index: int) -> str | None:
    """The action/items field of cell ``index`` in ``tr``: header row above + the row's No."""
    tbl = _ancestor(tr, TBL)
    if tbl is None:
        return None
    cells = _row_cells(tr)
    number = _text(cells[0]).strip() if cells else ""
    if not number.isdigit():
        return None
    rows = [r for r in tbl.iter(TR) if _ancestor(r, TBL) is tbl]
    for above in reversed(rows[:rows.index(tr)]):
        found = _table_columns([_norm_label(_text(c)) for c in _row_cells(above)])
        if found:
            prefix, mapping = found
            key = mapping.get(index)
            return f"{prefix}_{int(number)}_{key}" if key else None
    return None


def _label_after(sdt: etree._Element) -> str:
    """Text that follows a control in its paragraph, up to a tab or the next control."""
    parts: list[str] = []
    node = sdt
    while (node := node.getnext()) is not None:
        if node.tag == SDT:
            break
        text = _text(node) if node.tag != _w("tab") else "\t"
        if "\t" in text:
            parts.append(text.split("\t")[0])
            break
        parts.append(text)
    return "".join(parts).split(":")[0]


def _infer_key(sdt: etree._Element, kind: str) -> str | None:
    """A control without tag or alias: the label printed next to it tells which field."""
    if kind == forms.CHECKBOX:
        return _BOX_LABELS.get(_norm_label(_label_after(sdt)))
    tc = _ancestor(sdt, TC)
    if tc is None:
        return None
    tr = _ancestor(tc, TR)
    cells = _row_cells(tr) if tr is not None else []
    if tc not in cells:
        return None
    index = cells.index(tc)
    if index > 0:
        name = _LABELS.get(_norm_label(_text(cells[index - 1])))
        if name:
            return name
    return _grid_field(tr, index)


@dataclass
class _Found:
    values: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, name: str, value: str, how: str) -> None:
        self.values.setdefault(name, []).append((value, how))


def _clean(text: str) -> str:
    text = text.strip()
    return "" if _is_placeholder(text) else text


def _read_controls(parts: list[etree._Element], found: _Found) -> None:
    consumed: set[etree._Element] = set()
    for root in parts:
        for sdt in root.iter(SDT):
            if sdt in consumed:
                continue
            pr = sdt.find(SDT_PR)
            if pr is None:
                continue
            tag = (pr.find(_w("tag")).get(VAL, "") if pr.find(_w("tag")) is not None else "")
            alias = (pr.find(_w("alias")).get(VAL, "")
                     if pr.find(_w("alias")) is not None else "")
            kind = _control_kind(pr)
            boxes = [s for s in sdt.iter(SDT) if s.find(SDT_PR) is not None
                     and _control_kind(s.find(SDT_PR)) == forms.CHECKBOX]
            if kind != forms.CHECKBOX and len(boxes) > 1:
                # LibreOffice 7.4 wraps a whole paragraph of checkboxes in one control that
                # carries one box's alias: not a field; the boxes inside are read one by one.
                continue
            if tag in _SPECS:
                name, how = tag, "tag"
            elif alias in _SPECS:
                name, how = alias, "alias"
            elif tag or alias:
                continue  # someone else's control
            else:
                inferred = _infer_key(sdt, forms.CHECKBOX if boxes else kind)
                if inferred is None:
                    continue
                name, how = inferred, "label"
            # Nested controls belong to this one (LibreOffice wraps a checkbox in another).
            consumed.update(s for s in sdt.iter(SDT) if s is not sdt)
            spec = _SPECS[name]
            content = sdt.find(SDT_CONTENT)
            if spec.kind == forms.CHECKBOX:
                value = _checkbox_value(sdt)
            elif pr.find(_w("showingPlcHdr")) is not None or content is None:
                value = ""
            else:
                value = _clean(_text(content))
                date_el = pr.find(_w("date"))
                full = date_el.get(_w("fullDate")) if date_el is not None else None
                if value and full:
                    value = full[:10]
            found.add(name, value, how)


_GLYPH_LABEL = re.compile(
    f"([{CHECKED_GLYPHS}{UNCHECKED_GLYPHS}])[ \u00a0]*([^{CHECKED_GLYPHS}{UNCHECKED_GLYPHS}"
    r"\t\n:]+)")


def _read_labels(parts: list[etree._Element], found: _Found) -> None:
    """Fields no control gave: label cell -> value cell, action/items tables by their header
    row, checkboxes as a box glyph followed by its label."""
    def missing(name: str) -> bool:
        return name not in found.values

    for root in parts:
        for tbl in root.iter(TBL):
            columns: tuple[str, dict[int, str]] | None = None
            for tr in (r for r in tbl.iter(TR) if _ancestor(r, TBL) is tbl):
                cells = _row_cells(tr)
                texts = [_text(c) for c in cells]
                labels = [_norm_label(t) for t in texts]
                header = _table_columns(labels)
                if header:
                    columns = header
                    continue
                if columns and texts and texts[0].strip().isdigit():
                    prefix, mapping = columns
                    for i, key in mapping.items():
                        name = f"{prefix}_{int(texts[0].strip())}_{key}"
                        if i < len(texts) and name in _SPECS and missing(name):
                            found.add(name, _clean(texts[i]), "label")
                    continue
                columns = None  # the action / items rows ended
                for i in range(len(cells) - 1):
                    name = _LABELS.get(labels[i])
                    if name and missing(name):
                        found.add(name, _clean(texts[i + 1]), "label")
        for p in root.iter(P):
            text = _text(p)
            for m in _GLYPH_LABEL.finditer(text):
                name = _BOX_LABELS.get(_norm_label(m[2]))
                if name and missing(name):
                    found.add(name, "1" if m[1] in CHECKED_GLYPHS else "0", "label")


@dataclass(frozen=True)
class FilledForm:
    """What a returned form says. ``values`` holds every field of the recognised form ('' when
    empty, showing its placeholder, or absent from the document: ``how`` lacks those);
    checkboxes are '1' / '0'; dates as written, or YYYY-MM-DD from a date picker.
    ``form`` is None when the document has no field of either form: then ``values`` and
    ``how`` are empty. ``conflicts`` lists fields given twice with different values (the first
    non-empty one is in ``values``)."""

    form: str | None
    values: Mapping[str, str]
    how: Mapping[str, str]
    conflicts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _guess_form(names: set[str]) -> str | None:
    ptpp = {s.name for s in forms.PTPP_FIELDS}
    retur = {s.name for s in forms.RETURN_FIELDS}
    score_ptpp, score_retur = len(names & (ptpp - retur)), len(names & (retur - ptpp))
    if not score_ptpp and not score_retur:
        return None
    return "ptpp" if score_ptpp >= score_retur else "retur"


def read_form(content: bytes, *, limits: Limits = Limits(), filename: str = "") -> FilledForm:
    """Read a returned PTPP or return-claim form. Raises UnsupportedDocument, MacroDocument,
    CorruptDocument or UnsafeDocument (each with an Indonesian ``reply_id``) when the bytes
    are not a safe, readable .docx; ``filename`` (the attachment's name) only sharpens that
    verdict when the bytes say nothing, e.g. a damaged 'x.docx' is corrupt, not unsupported.
    A .docx without any known field gives form=None with empty values."""
    parts = _open_parts(content, limits, filename)
    found = _Found()
    _read_controls(parts, found)
    _read_labels(parts, found)
    form = _guess_form(set(found.values))
    if form is None:
        return FilledForm(None, {}, {})
    values: dict[str, str] = {}
    how: dict[str, str] = {}
    conflicts: dict[str, tuple[str, ...]] = {}
    for spec in forms.FORMS[form]:
        hits = found.values.get(spec.name)
        if not hits:
            values[spec.name] = ""
            continue
        filled = [(v, h) for v, h in hits if v and not (spec.kind == forms.CHECKBOX and v == "0")]
        value, how_found = filled[0] if filled else hits[0]
        values[spec.name], how[spec.name] = value, how_found
        distinct = tuple(dict.fromkeys(v for v, _ in filled))
        if len(distinct) > 1:
            conflicts[spec.name] = distinct
    return FilledForm(form, values, how, conflicts)


# ---- template checks ----------------------------------------------------------------------


def _template_parts(template: Path | bytes) -> list[etree._Element]:
    if isinstance(template, bytes | bytearray):
        data = bytes(template)
    else:
        path = Path(template)
        if not path.is_file():
            raise TemplateProblem(f"{path}: form template not found")
        data = path.read_bytes()
    try:
        return _open_parts(data, Limits())
    except DocumentError as exc:
        raise TemplateProblem(f"{_template_name(template)}: {exc}") from exc


def _controls(parts: list[etree._Element]) -> Iterator[tuple[str, str, str]]:
    for root in parts:
        for sdt in root.iter(SDT):
            pr = sdt.find(SDT_PR)
            if pr is None:
                continue
            tag = pr.find(_w("tag"))
            alias = pr.find(_w("alias"))
            yield ((tag.get(VAL, "") if tag is not None else ""),
                   (alias.get(VAL, "") if alias is not None else ""), _control_kind(pr))


def template_fields(template: Path | bytes) -> list[tuple[str, str]]:
    """(tag, kind) of every content control in the template, in document order; kind is
    'text' | 'date' | 'dropdown' | 'checkbox' | 'richtext'; tag '' when it has none."""
    return [(tag, kind) for tag, _, kind in _controls(_template_parts(template))]


_PNG_1PX = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00"
            b"\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe"
            b"\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def check_template(template: Path | bytes, form: str, *, strict: bool = False) -> list[str]:
    """Problems an administrator must fix in a form template, as English sentences; [] when
    it is fine. Renders it with sample_context(form) and checks that every field some step
    needs is a control of the right kind, and that every control has tag == alias. With
    ``strict``, a variable the sample context does not have is a problem too."""
    if form not in forms.FORMS:
        raise ValueError(f"unknown form {form!r}; expected one of {', '.join(forms.FORMS)}")
    name = _template_name(template)
    problems: list[str] = []
    try:
        raw = template if isinstance(template, bytes | bytearray) else Path(template)
        rendered = render(raw, sample_context(form), images=[("contoh.png", _PNG_1PX)],
                          strict=strict)
        parts = _open_parts(rendered, Limits())
    except (TemplateProblem, DocumentError) as exc:
        return [f"{name}: cannot be rendered: {exc}"]
    controls = list(_controls(parts))
    if controls and not any(tag for tag, _, _ in controls):
        problems.append(f"{name}: no content control has a tag; LibreOffice removes them when "
                        "it saves: edit the template in Microsoft Word")
    kinds: dict[str, str] = {}
    for tag, alias, kind in controls:
        if not tag and not alias:
            problems.append(f"{name}: a {kind} control has neither tag nor alias")
            continue
        if not tag:
            problems.append(f"{name}: control '{alias}' has an alias but no tag")
        elif tag != alias:
            problems.append(f"{name}: control tag '{tag}' differs from its alias '{alias}'")
        kinds.setdefault(tag or alias, kind)
    for spec in forms.FORMS[form]:
        if spec.name not in kinds:
            if spec.required_for:
                steps = ", ".join(s for s in forms.STEPS if s in spec.required_for)
                problems.append(f"{name}: field '{spec.name}' ({spec.label}, required for step "
                                f"{steps}) is missing")
        elif kinds[spec.name] != spec.kind and not (
                spec.kind == forms.TEXT and kinds[spec.name] == "richtext"):
            problems.append(f"{name}: field '{spec.name}' ({spec.label}) should be a "
                            f"{spec.kind} control, found {kinds[spec.name]}")
    return problems


def sample_context(form: str) -> dict[str, Any]:
    """A plausible render context for ``form`` (used by check_template and the demo)."""
    company = {"name": "PT Contoh Manufaktur Indonesia",
               "address": "Jl. Industri Raya No. 10, Cikarang, Bekasi 17530"}
    if form == "ptpp":
        return {
            "company": company,
            "doc": {"number": "FM-MR-15", "revision": "02", "revision_date": "18/09/2023"},
            "ptpp_number": "001/PTPP/MKT/XI/2026",
            "date": "25/11/2026",
            "to_department": "Quality Control",
            "from_issuer": "Administrasi Marketing",
            "reference": "KEL-2026-0001",
            "cycle": 2,
            "category_label": "Kualitas produk",
            "severity": "Mayor",
            "customer": "PT Pelanggan Setia",
            "product": "Botol PET 600 ml",
            "batch": "LOT-2611-07",
            "quantity": "1.200 pcs",
            "invoice": "INV/2026/11/0456",
            "delivery_note": "SJ/2026/11/0789",
            "description": "Botol retak pada bagian leher saat proses pengisian.\n"
                           "Ditemukan 35 botol retak dari 1.200 pcs yang diterima.",
            "previous": {
                "cycle": 1,
                "root_cause": "Suhu cetakan tidak stabil pada mesin blow molding 3.",
                "actions": [{"no": 1, "cause": "Suhu cetakan turun",
                             "corrective": "Kalibrasi pengendali suhu mesin 3",
                             "preventive": "Cek suhu tiap awal shift", "pic": "Supervisor Produksi",
                             "target": "05/11/2026"}],
                "verification_note": "Keluhan serupa terulang pada pengiriman berikutnya.",
            },
        }
    if form == "retur":
        return {
            "company": company,
            "doc": {"number": "BKI.FM.MKT.06", "revision": "00", "revision_date": "18/09/2023"},
            "claim_number": "001/RTR/MKT/XI/2026",
            "ptpp_number": "001/PTPP/MKT/XI/2026",
            "date": "25/11/2026",
            "customer": "PT Pelanggan Setia",
            "contact": "Budi Santoso (0812-3456-7890)",
            "po": "PO-7781",
            "delivery_note": "SJ/2026/11/0789",
            "invoice": "INV/2026/11/0456",
            "items": [{"name": "Botol PET 600 ml", "batch": "LOT-2611-07",
                       "qty_sent": "1.200", "qty_return": "35", "unit": "pcs"}],
            "description": "Botol retak pada bagian leher.",
        }
    raise ValueError(f"unknown form {form!r}; expected one of {', '.join(forms.FORMS)}")
