"""Opening a received or shipped .docx safely, and the WordprocessingML vocabulary the other
form modules share (namespaces, content-control kinds, visible text, placeholder texts).

Never trusts the file: ``sniff`` tells the type by magic bytes; ``open_parts`` checks the zip's
declared sizes, member count and compression ratios before reading any member, refuses macros
and DTDs, and parses XML without entities. Each refusal is a ``DocumentError`` carrying a short
Indonesian reply for the sender.

Must not render, interpret form fields, or touch mail, the database or the configuration.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailproc.domain import forms
from mailproc.errors import MailprocError

if TYPE_CHECKING:
    from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
HEADER_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
FOOTER_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"


def w(tag: str) -> str:
    """The Clark name of a WordprocessingML element or attribute: w('sdt') -> '{...}sdt'."""
    return f"{{{W}}}{tag}"


SDT, SDT_PR, SDT_CONTENT = w("sdt"), w("sdtPr"), w("sdtContent")
TBL, TR, TC, P = w("tbl"), w("tr"), w("tc"), w("p")
VAL = w("val")

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
    """What a .docx may declare before open_parts refuses it as unsafe."""

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


# ---- safe package reading -----------------------------------------------------------------


def _parser() -> etree.XMLParser:
    from lxml import etree  # see _Package.xml

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
        from lxml import etree  # heavy: only once a .docx is opened (`sniff` needs none of it)

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


def open_parts(content: bytes, limits: Limits, filename: str = "") -> list[etree._Element]:
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
    if parts[0].find(w("body")) is None:
        raise CorruptDocument("main part has no w:body", _REPLY_CORRUPT)
    return parts


# ---- text and controls --------------------------------------------------------------------

_SKIP = {w("pPr"), w("rPr"), SDT_PR, w("sdtEndPr"), w("tblPr"), w("trPr"), w("tcPr"),
         w("del"), w("moveFrom"), f"{{{MC}}}Fallback", w("instrText")}


def visible_text(el: etree._Element) -> str:
    """Visible text: w:t, w:br/w:cr as newline, w:tab as tab, paragraphs on their own lines;
    deleted text (w:del / w:delText) and field codes are not content."""
    out: list[str] = []

    def walk(node: etree._Element) -> None:
        for child in node:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == w("t"):
                out.append(child.text or "")
            elif tag in (w("br"), w("cr")):
                out.append("\n")
            elif tag == w("tab"):
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


def norm_text(text: str) -> str:
    """Whitespace collapsed, case folded: how placeholder texts are compared."""
    return " ".join(text.split()).casefold()


PLACEHOLDERS_NORM = frozenset(norm_text(p) for p in PLACEHOLDERS)


def control_kind(pr: etree._Element) -> str:
    """The kind of a content control from its w:sdtPr: a domain.forms kind, or 'richtext'."""
    if pr.find(f"{{{W14}}}checkbox") is not None:
        return forms.CHECKBOX
    if pr.find(w("date")) is not None:
        return forms.DATE
    if pr.find(w("dropDownList")) is not None or pr.find(w("comboBox")) is not None:
        return forms.DROPDOWN
    if pr.find(w("text")) is not None:
        return forms.TEXT
    return "richtext"

