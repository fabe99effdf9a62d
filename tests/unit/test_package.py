"""Opening a .docx safely: sniffing, and every bad input refused with a reply."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docfill import (  # noqa: E402
    W,
    edit_part,
    png,
)

from mailproc.errors import MailprocError  # noqa: E402
from mailproc.forms.catalogue import sample_context  # noqa: E402
from mailproc.forms.package import (  # noqa: E402
    CorruptDocument,
    DocumentError,
    Limits,
    MacroDocument,
    UnsafeDocument,
    UnsupportedDocument,
    sniff,
)
from mailproc.forms.readback import read_form  # noqa: E402
from mailproc.forms.render import render  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PTPP = REPO / "doc_templates" / "ptpp.docx"


@pytest.fixture(scope="module")
def ptpp() -> bytes:
    return render(PTPP, sample_context("ptpp"), images=[("Foto 1: leher retak", png(40, 30)),
                                                        ("Foto 2", png(30, 40, 90))])


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
        assert issubclass(cls, MailprocError)
