"""Form templates compiled once per process and template file, rendered without docxtpl's
per-render work.

docxtpl re-reads the .docx, runs ``patch_xml``'s regexes over every part, compiles the Jinja
template again and writes a new zip, recompressing every member, on every render: ~65 ms for
the PTPP form. Here that work is done once per template file version (path, size, mtime):

- the body of the main document and each page header and footer holding template tags are
  patched with docxtpl's own ``patch_xml`` and compiled by the sandboxed, autoescaping Jinja
  environment (``environment``);
- every other zip member is kept as its compressed bytes and copied into the output as is.

A render then runs the compiled templates, applies docxtpl's post-processing (listing
characters, table grid fixes, drawing ids), adds the photos as media parts with their
relationships, and writes the zip itself. Only the rendered parts are compressed.

Templates whose core properties or footnotes hold template tags (docxtpl renders those
through python-docx) are not compiled: ``compile_template`` returns None and the caller
renders with docxtpl. Must not touch mail, the database or the configuration.
"""

from __future__ import annotations

import hashlib
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from jinja2 import Environment, Template
from lxml import etree

REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
R_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
R_IMAGE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
R_HEADER = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
R_FOOTER = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
WP_NS = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_TAGS = re.compile(r"\{[{%#]")
_BODY_MARK = "MAILPROC-BODY"
_XML_DECL = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_RECOVER = etree.XMLParser(recover=True)


class NotCompilable(Exception):
    """The template uses a docxtpl feature this renderer leaves to docxtpl."""


@dataclass(frozen=True)
class _Member:
    """One zip member as stored: compressed bytes and the fields of its headers."""
    name: str
    method: int
    crc: int
    csize: int
    usize: int
    date_time: tuple[int, int, int, int, int, int]
    data: bytes


@dataclass
class _Part:
    """A part rendered by Jinja: ``prefix + template output + suffix`` is its XML."""
    name: str                 # zip member name, e.g. 'word/document.xml'
    source: str               # patched XML the template was compiled from (error context)
    prefix: str
    suffix: str
    is_body: bool
    rels_name: str            # its relationships member, e.g. 'word/_rels/document.xml.rels'
    templates: dict[int, Template] = field(default_factory=dict)


@dataclass
class CompiledTemplate:
    """A form template ready to render: see the module docstring."""
    members: list[_Member]
    parts: list[_Part]
    rels: dict[str, str]              # relationships member -> its XML (parts that have one)
    content_types: str
    media_names: set[str]
    max_docpr_id: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def template(self, part: _Part, env: Environment) -> Template:
        """The part compiled by ``env`` (once per environment)."""
        key = id(env)
        tpl = part.templates.get(key)
        if tpl is None:
            with self.lock:
                tpl = part.templates.get(key)
                if tpl is None:
                    tpl = env.from_string(part.source)
                    part.templates[key] = tpl
        return tpl


# ---- reading and compiling --------------------------------------------------------------

def _raw_members(zf: zipfile.ZipFile, data: bytes) -> list[_Member]:
    members = []
    for info in zf.infolist():
        if info.flag_bits & 0x1:
            raise NotCompilable(f"{info.filename}: encrypted zip member")
        if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # The local header's name and extra lengths can differ from the central ones.
            start = info.header_offset
            name_len, extra_len = struct.unpack("<HH", data[start + 26:start + 30])
            begin = start + 30 + name_len + extra_len
            raw = data[begin:begin + info.compress_size]
            if len(raw) != info.compress_size:
                raise zipfile.BadZipFile(f"{info.filename}: truncated member")
            members.append(_Member(info.filename, info.compress_type, info.CRC,
                                   info.compress_size, info.file_size, info.date_time, raw))
        else:
            members.append(_stored(info.filename, zf.read(info), info.date_time))
    return members


def _deflated(name: str, content: bytes,
              date_time: tuple[int, int, int, int, int, int]) -> _Member:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = comp.compress(content) + comp.flush()
    return _Member(name, zipfile.ZIP_DEFLATED, zlib.crc32(content), len(raw), len(content),
                   date_time, raw)


def _stored(name: str, content: bytes,
            date_time: tuple[int, int, int, int, int, int]) -> _Member:
    return _Member(name, zipfile.ZIP_STORED, zlib.crc32(content), len(content), len(content),
                   date_time, content)


def _rels_name(part: str) -> str:
    folder, _, base = part.rpartition("/")
    return f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"


def _resolve(base_part: str, target: str) -> str:
    """A relationship target relative to its source part, as a zip member name."""
    if target.startswith("/"):
        return target.lstrip("/")
    parts = base_part.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _relationships(xml: bytes) -> list[etree._Element]:
    return etree.fromstring(xml).findall(f"{{{REL_NS}}}Relationship")


def _has_tags(xml: str) -> bool:
    """Template tags in a part's text (Word may split '{{' over runs)."""
    return _TAGS.search(re.sub(r"<[^>]*>", "", xml)) is not None


def compile_template(data: bytes, patch_xml: Callable[[str], str],
                     finish_static: Callable[[etree._Element], None] | None = None
                     ) -> CompiledTemplate:
    """Read a .docx template's bytes into a ``CompiledTemplate`` (the Jinja compile happens
    on first render, per environment). ``finish_static`` is the body's post-render step
    (placeholders shown in empty controls), applied now to the content controls that hold no
    template tag: they render the same every time. Raises zipfile.BadZipFile, KeyError,
    XMLSyntaxError for a file that is not a readable .docx, NotCompilable for one docxtpl
    must render."""
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = _raw_members(zf, data)
        names = {m.name for m in members}
        package_rels = _relationships(zf.read("_rels/.rels"))
        main = next((_resolve("", r.get("Target", "")) for r in package_rels
                     if r.get("Type") == R_DOC), "word/document.xml")
        main_rels = _rels_name(main)
        rels = {main_rels: zf.read(main_rels).decode("utf-8")} if main_rels in names else {}
        # docxtpl renders these through python-docx: left to it.
        if "docProps/core.xml" in names and _has_tags(zf.read("docProps/core.xml").decode()):
            raise NotCompilable("template tags in the document properties")
        for name in names:
            if name.endswith("footnotes.xml") and _has_tags(zf.read(name).decode("utf-8")):
                raise NotCompilable("template tags in the footnotes")

        parts = [_body_part(main, zf.read(main), patch_xml, main_rels, finish_static)]
        max_id = _max_docpr(zf.read(main))
        for rel in _relationships(zf.read(main_rels)) if main_rels in names else []:
            if rel.get("Type") not in (R_HEADER, R_FOOTER) or rel.get("TargetMode") == "External":
                continue
            name = _resolve(main, rel.get("Target", ""))
            if name not in names:
                continue
            raw = zf.read(name)
            max_id = max(max_id, _max_docpr(raw))
            root = etree.fromstring(raw)
            xml = etree.tostring(root, encoding="unicode")
            if not _has_tags(xml):
                continue
            own_rels = _rels_name(name)
            if own_rels in names:
                rels[own_rels] = zf.read(own_rels).decode("utf-8")
            parts.append(_Part(name, _for_jinja(patch_xml(xml)), _XML_DECL, "", False, own_rels))
        content_types = zf.read("[Content_Types].xml").decode("utf-8")
    media = {n for n in names if n.startswith("word/media/")}
    return CompiledTemplate(members, parts, rels, content_types, media, max_id)


def _finish_static_controls(body: etree._Element,
                            finish: Callable[[etree._Element], None]) -> None:
    """Apply ``finish`` to each outermost content control without template tags, each on its
    own (a control with tags is finished after every render)."""
    sdt = f"{{{W_NS}}}sdt"
    static = []
    for control in body.iter(sdt):
        if any(a.tag == sdt for a in control.iterancestors()):
            continue
        if not _has_tags(etree.tostring(control, encoding="unicode")):
            static.append(control)
    for control in static:
        holder = etree.Element(f"{{{W_NS}}}body")
        parent, index = control.getparent(), control.getparent().index(control)
        holder.append(control)  # moves it; finish sees this control alone
        finish(holder)
        parent.insert(index, control)


def _max_docpr(xml: bytes) -> int:
    ids = re.findall(rb"<wp:docPr[^>]*\sid=\"(\d+)\"", xml)
    return max((int(i) for i in ids), default=0)


def _for_jinja(xml: str) -> str:
    # As docxtpl's render_xml_part: each paragraph on its own line, so Jinja's line numbers
    # point at a paragraph in error messages; undone after rendering.
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


def _body_part(name: str, raw: bytes, patch_xml: Callable[[str], str],
               rels_name: str,
               finish_static: Callable[[etree._Element], None] | None = None) -> _Part:
    """The main document split around its body, as docxtpl renders only the body (serialized
    the way docxtpl serializes it, so ``patch_xml`` sees the same text)."""
    root = etree.fromstring(raw)
    body = root.find(f"{{{W_NS}}}body")
    if body is None:
        raise KeyError(f"{name}: no document body")
    if finish_static is not None:
        _finish_static_controls(body, finish_static)
    body_xml = etree.tostring(body, encoding="unicode")
    marker = etree.Comment(_BODY_MARK)
    marker.tail = body.tail
    root.replace(body, marker)
    prefix, suffix = etree.tostring(root, encoding="unicode").split(f"<!--{_BODY_MARK}-->")
    return _Part(name, _for_jinja(patch_xml(body_xml)), _XML_DECL + prefix, suffix, True,
                 rels_name)


# ---- the cache -----------------------------------------------------------------------------

_CACHE: dict[tuple[Any, ...], CompiledTemplate | None] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def cached(key: tuple[Any, ...], load: Callable[[], bytes],
           patch_xml: Callable[[str], str],
           finish_static: Callable[[etree._Element], None] | None = None
           ) -> CompiledTemplate | None:
    """The compiled template for ``key`` (a file's path, size and mtime, or a digest of bytes),
    compiled on first use; None when docxtpl must render it."""
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    try:
        compiled: CompiledTemplate | None = compile_template(load(), patch_xml, finish_static)
    except NotCompilable:
        compiled = None
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compiled
    return compiled


def path_key(path: Path) -> tuple[Any, ...]:
    st = path.stat()
    return ("file", str(path.resolve()), st.st_size, st.st_mtime_ns)


def bytes_key(data: bytes) -> tuple[Any, ...]:
    return ("bytes", hashlib.sha1(data).hexdigest(), len(data))


# ---- rendering -----------------------------------------------------------------------------

@dataclass
class Picture:
    """A photo to place where the template prints it: ``{{ p.image }}``. Prints the same
    drawing XML as docxtpl's InlineImage (python-docx's inline picture)."""
    blob: bytes
    ext: str
    content_type: str
    cx: int
    cy: int
    media: Media | None = None

    def __html__(self) -> str:
        if self.media is None:
            raise RuntimeError("Picture printed outside a compiled render")
        return self.media.place(self)

    __str__ = __html__


_INLINE = (
    '<wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
    ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    ' xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"'
    ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    ' distT="0" distB="0" distL="0" distR="0">'
    '<wp:extent cx="{cx}" cy="{cy}"/><wp:docPr id="{id}" name="Picture {id}"/>'
    '<wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr>'
    '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
    '<pic:pic><pic:nvPicPr><pic:cNvPr id="0" name="image.{ext}"/><pic:cNvPicPr/></pic:nvPicPr>'
    '<pic:blipFill><a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
    '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm>'
    '<a:prstGeom prst="rect"/></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline>')


class Media:
    """The media parts and relationships one render adds."""

    def __init__(self, compiled: CompiledTemplate) -> None:
        self.compiled = compiled
        self.part: _Part = compiled.parts[0]
        self.files: dict[str, bytes] = {}          # media member name -> content
        self.by_digest: dict[str, str] = {}        # sha1 of content -> media member name
        self.new_rels: dict[str, list[tuple[str, str]]] = {}  # rels member -> [(rId, target)]
        self.rel_of: dict[tuple[str, str], str] = {}  # (rels member, media name) -> rId
        self.next_header_id = max(compiled.max_docpr_id, 2000) + 1

    def place(self, pic: Picture) -> str:
        digest = hashlib.sha1(pic.blob).hexdigest()
        name = self.by_digest.get(digest)
        if name is None:
            n = len(self.files) + 1
            while f"word/media/image{n}.{pic.ext}" in self.compiled.media_names:
                n += 1000
            name = f"word/media/image{n}.{pic.ext}"
            self.files[name] = pic.blob
            self.by_digest[digest] = name
        rels = self.part.rels_name
        rid = self.rel_of.get((rels, name))
        if rid is None:
            taken = self.compiled.rels.get(rels, "")
            k = len(self.new_rels.get(rels, ())) + 1
            while f'Id="rIdMp{k}"' in taken:
                k += 1
            rid = f"rIdMp{k}"
            target = _relative(self.part.name, name)
            self.new_rels.setdefault(rels, []).append((rid, target))
            self.rel_of[(rels, name)] = rid
        # Body drawings are renumbered after rendering (as docxtpl does); others get theirs here.
        shape_id = 0 if self.part.is_body else self._header_id()
        inline = _INLINE.format(cx=pic.cx, cy=pic.cy, id=shape_id, ext=pic.ext, rid=rid)
        return ('</w:t></w:r><w:r><w:drawing>' + inline +
                '</w:drawing></w:r><w:r><w:t xml:space="preserve">')

    def _header_id(self) -> int:
        self.next_header_id += 1
        return self.next_header_id


def _relative(source_part: str, target: str) -> str:
    src = source_part.split("/")[:-1]
    dst = target.split("/")
    common = 0
    while common < min(len(src), len(dst) - 1) and src[common] == dst[common]:
        common += 1
    return "/".join([".."] * (len(src) - common) + dst[common:])


_PARAGRAPH = re.compile(r"<w:p(?: [^>]*)?>.*?</w:p>", re.DOTALL)  # docxtpl's, in resolve_listing
_LISTING = ("\t", "\n", "\a", "\f")


def _post(xml: str, resolve_listing: Callable[[str], str]) -> str:
    """docxtpl's post-processing of a rendered part, skipping what cannot apply."""
    xml = xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
    if "_" in xml:
        xml = (xml.replace("{_{", "{{").replace("}_}", "}}")
               .replace("{_%", "{%").replace("%_}", "%}"))
    # Tabs and line breaks (and \a, \f) in printed values become Word runs. docxtpl's
    # resolve_listing rewrites every paragraph with nested regexes; a paragraph without any of
    # those characters comes out unchanged, so only the others are handed to it.
    if not any(c in xml for c in _LISTING):
        return xml
    out: list[str] = []
    last = 0
    for m in _PARAGRAPH.finditer(xml):
        paragraph = m.group(0)
        if any(c in paragraph for c in _LISTING):
            out.append(xml[last:m.start()])
            out.append(resolve_listing(paragraph))
            last = m.end()
    out.append(xml[last:])
    return "".join(out)


def _grid_fits(tree: etree._Element) -> bool:
    """True when docxtpl's fix_tables would change nothing: in every table no row has more
    cells than the grid has columns, and some row spans the whole grid (the same counts as
    fix_tables: rows of nested tables included)."""
    tbl, grid, col, tr, tc = (f"{{{W_NS}}}{t}" for t in ("tbl", "tblGrid", "gridCol", "tr", "tc"))
    span = f"{{{W_NS}}}tcPr/{{{W_NS}}}gridSpan"
    val = f"{{{W_NS}}}val"
    for t in tree.iter(tbl):
        g = t.find(grid)
        if g is None:
            return False  # fix_tables would fail on it: let it say so
        columns = len(g.findall(col))
        widest = 0
        for r in t.iter(tr):
            cells = len(r.findall(tc))
            if cells > columns:
                return False
            # A cell spans its gridSpan, or one column.
            total = cells + sum(int(s.get(val)) - 1 for s in r.findall(f"{tc}/{span}"))
            widest = max(widest, total)
        if widest < columns:
            return False
    return True


def render_compiled(compiled: CompiledTemplate, env: Environment, context: Mapping[str, Any],
                    *, media: Media,
                    resolve_listing: Callable[[str], str],
                    fix_tables: Callable[[str], etree._Element],
                    finish_body: Callable[[etree._Element], None]) -> bytes:
    """Render ``compiled`` with ``context`` and return the .docx bytes. Jinja's and lxml's
    errors propagate (the caller words them)."""
    changed: dict[str, bytes] = {}
    for part in compiled.parts:
        media.part = part
        xml = _post(compiled.template(part, env).render(context), resolve_listing)
        if part.is_body:
            try:
                tree = etree.fromstring(xml)
            except etree.XMLSyntaxError:
                tree = etree.fromstring(xml, _RECOVER)  # as fix_tables parses it
            if not _grid_fits(tree):
                tree = fix_tables(xml)
            for n, pr in enumerate(tree.iter(f"{{{WP_NS}}}docPr"), start=1001):
                pr.set("id", str(n))
            finish_body(tree)
            xml = etree.tostring(tree, encoding="unicode")
        else:
            etree.fromstring(xml.encode("utf-8"))  # well-formed, as python-docx would insist
        changed[part.name] = (part.prefix + xml + part.suffix).encode("utf-8")
    for rels, added in media.new_rels.items():
        base = (compiled.rels.get(rels)
                or f'{_XML_DECL}<Relationships xmlns="{REL_NS}"></Relationships>')
        extra = "".join(f'<Relationship Id="{rid}" Type="{R_IMAGE}" Target={quoteattr(t)}/>'
                        for rid, t in added)
        changed[rels] = base.replace("</Relationships>", extra + "</Relationships>").encode()
    if media.files:
        changed["[Content_Types].xml"] = _content_types(compiled.content_types,
                                                        media.files).encode("utf-8")
    return _write_zip(compiled.members, changed, media.files)


_IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
                "gif": "image/gif", "bmp": "image/bmp", "tiff": "image/tiff",
                "tif": "image/tiff"}


def _content_types(xml: str, files: Mapping[str, bytes]) -> str:
    have = {e.lower() for e in re.findall(r'<Default\s[^>]*Extension="([^"]+)"', xml)}
    extra = ""
    for name in files:
        ext = name.rsplit(".", 1)[-1].lower()
        if ext not in have:
            have.add(ext)
            ctype = _IMAGE_TYPES.get(ext, f"image/{ext}")
            extra += f'<Default Extension="{ext}" ContentType="{ctype}"/>'
    return xml.replace("</Types>", extra + "</Types>", 1)


def _dos_time(dt: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((max(y, 1980) - 1980) << 9) | (mo << 5) | d


def _write_zip(members: list[_Member], changed: Mapping[str, bytes],
               media: Mapping[str, bytes]) -> bytes:
    """The output zip: unchanged members copied compressed, changed parts deflated, photos
    stored (JPEG and PNG do not deflate). No data descriptors, no zip64 (forms are small)."""
    out: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    stamp = next((m.date_time for m in members if m.name in changed), (1980, 1, 1, 0, 0, 0))
    final: list[_Member] = []
    seen = set()
    for m in members:
        seen.add(m.name)
        final.append(_deflated(m.name, changed[m.name], m.date_time) if m.name in changed else m)
    for name, content in changed.items():
        if name not in seen:
            final.append(_deflated(name, content, stamp))
    final.extend(_stored(name, blob, stamp) for name, blob in media.items())
    for m in final:
        name = m.name.encode("utf-8")
        flags = 0x800 if not name.isascii() else 0
        t, d = _dos_time(m.date_time)
        out.append(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, m.method, t, d, m.crc,
                               m.csize, m.usize, len(name), 0) + name)
        out.append(m.data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, m.method,
                                   t, d, m.crc, m.csize, m.usize, len(name), 0, 0, 0, 0, 0,
                                   offset) + name)
        offset += 30 + len(name) + m.csize
    cd = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(final), len(final), len(cd), offset, 0)
    return b"".join(out) + cd + end
