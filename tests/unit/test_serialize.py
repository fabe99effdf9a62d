"""Outgoing mail is written by message._flatten (issue #11: no per-line generator work); what
it writes reads, through the email parser, exactly like the email package's own generator
output for the same message."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from appfixture import LocalApp

from mailproc.archive import Archive
from mailproc.config import load_settings
from mailproc.outgoing import message


def mail(**overrides) -> message.MailToSend:
    values = dict(
        outgoing_id=7, kind="ack", to=("budi@example.com", "info@bücher.example"),
        cc=("qc@contoh.co.id",),
        subject="[001/PTPP/MKT/XI/2026] Keluhan Anda telah kami terima: botol “retak” — "
                "pengiriman tanggal 3 dengan nomor surat jalan SJ/2026/11/0789 dan faktur",
        body_text="Yth. Bapak/Ibu,\n\nFrom the start: baris dengan titik\n.\nSalam, QC\n",
        body_html="", message_id="abc.123@contoh.co.id", in_reply_to="x@y.example",
        references=("a@b.example", "x@y.example"), attachments=())
    values.update(overrides)
    return message.MailToSend(**values)  # type: ignore[arg-type]


def reading(raw: bytes) -> list[tuple[dict[str, str], bytes | None]]:
    """Each part's decoded headers and decoded payload."""
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for part in parsed.walk():
        # Unfolded: where a long line is folded is the writer's choice (RFC 5322 2.2.3).
        headers = {k: re.sub(r"\r?\n[ \t]+", " ", str(make_header(decode_header(v)))).strip()
                   for k, v in part.items()}
        out.append((headers, None if part.is_multipart() else part.get_payload(decode=True)))
    return out


@pytest.fixture
def setting(tmp_path: Path):
    app = LocalApp(tmp_path)
    settings = load_settings(app.config, {})
    archive = Archive(settings.archive_dir)
    doc = archive.root / "2026" / "11" / "x" / "Formulir PTPP — 001.docx"
    doc.parent.mkdir(parents=True)
    doc.write_bytes(bytes(range(256)) * 400)
    return settings, archive, doc.relative_to(archive.root).as_posix()


@pytest.mark.parametrize("shape", ["text", "html", "attachment"])
def test_flatten_reads_like_the_generator(setting, shape: str):
    settings, archive, rel = setting
    extra = {"html": {"body_html": "<p>Yth. <b>Bapak</b> &amp; Ibu — “salam”</p>\n"},
             "attachment": {"body_html": "<p>lampiran</p>", "attachments": (rel,)},
             "text": {}}[shape]
    msg = message.build_message(mail(**extra), settings, archive,
                                datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    fast = message._flatten(msg, "\r\n")
    assert fast is not None
    slow = msg.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
    assert reading(fast) == reading(slow)
    assert all(len(line) <= 78 for line in fast.split(b"\r\n\r\n")[0].split(b"\r\n"))
    assert b"\n" not in fast.replace(b"\r\n", b"")  # one line ending throughout
    assert message.serialize(msg, utf8=False) == fast


def test_non_ascii_subject_is_encoded_words_that_decode_back():
    subject = mail().subject
    value = message._header(subject)
    assert value.isascii() and all(len(w) <= 75 for w in value.split())
    assert str(make_header(decode_header(value))) == subject


def test_a_header_it_cannot_write_goes_to_the_generator():
    from email.header import Header
    from email.mime.text import MIMEText

    msg = MIMEText("isi", "plain", "utf-8")
    msg["Subject"] = Header("Barang rusak — retak", "utf-8")
    assert message._flatten(msg, "\r\n") is None
    assert b"Subject: =?utf-8?" in message.serialize(msg, utf8=False)


def test_header_injection_is_folded_away():
    msg = message.build_message(mail(subject="Keluhan\r\nBcc: korban@example.com"),
                                *_settings_and_archive(), datetime(2026, 12, 1, tzinfo=UTC))
    raw = message.serialize(msg, utf8=False)
    assert b"\r\nBcc:" not in raw


def _settings_and_archive():
    import tempfile

    root = Path(tempfile.mkdtemp())
    app = LocalApp(root)
    settings = load_settings(app.config, {})
    return settings, Archive(settings.archive_dir)
