"""mailproc.intake.parse: fixtures in tests/fixtures/eml plus focused cases."""

from __future__ import annotations

import copy
import dataclasses
import email
import email.policy
import hashlib
import json
import pickle
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from mailproc.intake.parse import (
    MAX_FORWARD_DEPTH,
    Address,
    IncomingMail,
    forwarded_original,
    is_auto_reply,
    parse_message,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "eml"
EXPECTED = sorted(FIXTURES.glob("*.expected.json"))


def _load(name: str, **kwargs: Any) -> IncomingMail:
    return parse_message((FIXTURES / f"{name}.eml").read_bytes(), **kwargs)


def _check_attachments(mail: IncomingMail, expected: list[dict[str, Any]]) -> None:
    assert len(mail.attachments) == len(expected), [a.filename for a in mail.attachments]
    for att, exp in zip(mail.attachments, expected, strict=True):
        for field in (
            "filename",
            "original_filename",
            "content_type",
            "size",
            "inline",
            "too_large",
            "content_id",
            "sha256",
        ):
            if field in exp:
                assert getattr(att, field) == exp[field], (att.filename, field)
        # the invariants every attachment keeps
        if att.too_large:
            assert att.content is None
        else:
            assert att.content is not None and len(att.content) == att.size
            assert hashlib.sha256(att.content).hexdigest() == att.sha256
        for needle in exp.get("content_contains", []):
            assert att.content is not None and needle.encode() in att.content


def _check_mail(mail: IncomingMail, exp: dict[str, Any]) -> None:
    simple = {
        "message_id": mail.message_id,
        "key": mail.key,
        "subject": mail.subject,
        "from_email": mail.from_.email,
        "from_name": mail.from_.name,
        "in_reply_to": list(mail.in_reply_to),
        "references": list(mail.references),
        "to": [a.email for a in mail.to],
        "cc": [a.email for a in mail.cc],
    }
    for field, actual in simple.items():
        if field in exp:
            assert actual == exp[field], field
    if "key_prefix" in exp:
        assert mail.key.startswith(exp["key_prefix"])
    if "date" in exp:
        assert mail.date is not None and mail.date.isoformat() == exp["date"]
    for needle in exp.get("text_contains", []):
        assert needle in mail.text, needle
    for needle in exp.get("text_not_contains", []):
        assert needle not in mail.text, needle
    for needle in exp.get("html_contains", []):
        assert needle in mail.html, needle
    if "attachments" in exp:
        _check_attachments(mail, exp["attachments"])
    if "auto_reply" in exp:
        if exp["auto_reply"]:
            assert exp["auto_reply"] in mail.auto_reply
        else:
            assert mail.auto_reply == ""
    for name, value in exp.get("headers", {}).items():
        assert mail.headers.get(name) == value, name
    if "forwarded" in exp:
        assert len(mail.forwarded) == len(exp["forwarded"])
        for inner, inner_exp in zip(mail.forwarded, exp["forwarded"], strict=True):
            _check_mail(inner, inner_exp)


@pytest.mark.parametrize("expected_path", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_fixture(expected_path: Path) -> None:
    exp = json.loads(expected_path.read_text(encoding="utf-8"))
    raw = expected_path.with_name(expected_path.name.replace(".expected.json", ".eml")).read_bytes()
    kwargs = {}
    if "max_attachment_bytes" in exp:
        kwargs["max_attachment_bytes"] = exp["max_attachment_bytes"]
    mail = parse_message(raw, **kwargs)

    assert mail.size == len(raw)
    if mail.date is not None:
        assert mail.date.tzinfo is not None
    _check_mail(mail, exp)
    if "forwarded_from" in exp:
        sender, text = forwarded_original(mail)
        assert sender is not None and sender.email == exp["forwarded_from"]
        if "forwarded_from_name" in exp:
            assert sender.name == exp["forwarded_from_name"]
        for needle in exp.get("forwarded_text_contains", []):
            assert needle in text, needle
        for needle in exp.get("forwarded_text_not_contains", []):
            assert needle not in text, needle


def test_fixture_set_is_complete() -> None:
    required = {
        "outlook_html_only",
        "gmail_alternative_inline_image",
        "qp_windows1252",
        "iso8859_1",
        "rfc2231_filename",
        "no_message_id",
        "duplicate_message_id_a",
        "duplicate_message_id_b",
        "reply_changed_subject",
        "out_of_office",
        "dsn_bounce",
        "staff_forward",
        "staff_forward_inline",
        "oversize_attachment",
        "path_traversal_filename",
        "mailing_list",
        "html_entities_tables",
    }
    present = {p.name.split(".")[0] for p in EXPECTED}
    assert required <= present
    for name in present:
        assert (FIXTURES / f"{name}.eml").is_file()


# -------------------------------------------------------------------- keys and identity


def test_key_without_message_id_is_sha256_of_raw() -> None:
    raw = (FIXTURES / "no_message_id.eml").read_bytes()
    mail = parse_message(raw)
    assert mail.message_id == ""
    assert mail.key == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_duplicate_message_ids_share_a_key() -> None:
    a, b = _load("duplicate_message_id_a"), _load("duplicate_message_id_b")
    assert a.key == b.key == "20251128073000.4F2A1C@mail.example.com"
    assert a.text != b.text


def test_values_are_immutable_and_hashable() -> None:
    mail = _load("gmail_alternative_inline_image")
    with pytest.raises(FrozenInstanceError):
        mail.subject = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        mail.headers["x"] = "y"  # type: ignore[index]
    hash(mail)
    assert isinstance(mail.attachments, tuple)
    # safe to hand to a worker process, copy, or dump for the audit trail
    assert pickle.loads(pickle.dumps(mail)) == mail
    assert copy.deepcopy(mail) == mail
    assert dict(dataclasses.asdict(mail)["headers"]) == dict(mail.headers)


def test_inline_image_and_real_attachment_are_told_apart() -> None:
    mail = _load("gmail_alternative_inline_image")
    inline = [a for a in mail.attachments if a.inline]
    real = [a for a in mail.attachments if not a.inline]
    assert [a.content_id for a in inline] == ["ii_m3x9k2rl0"]
    assert [a.filename for a in real] == ["INV-2026-11-0457.pdf"]
    assert f"cid:{inline[0].content_id}" in mail.html
    # the body parts themselves are not attachments
    assert all(a.content_type not in ("text/plain", "text/html") for a in mail.attachments)


def test_oversize_attachment_keeps_size_and_hash_but_not_content() -> None:
    mail = _load("oversize_attachment", max_attachment_bytes=1024)
    big = mail.attachments[0]
    assert big.too_large and big.content is None and big.size == 4000
    same = _load("oversize_attachment")
    assert not same.attachments[0].too_large
    assert same.attachments[0].content is not None
    assert hashlib.sha256(same.attachments[0].content).hexdigest() == big.sha256


# -------------------------------------------------------------------- forwarded_original


def test_forwarded_original_from_attached_message() -> None:
    mail = _load("staff_forward")
    sender, text = forwarded_original(mail)
    assert sender == Address("Hendra Gunawan", "hendra.gunawan@example.com")
    assert "No. batch: LOT-2611-07" in text
    assert mail.forwarded[0].attachments[0].filename == "IMG_20251124_1530.jpg"


def test_forwarded_original_gmail_inline() -> None:
    sender, text = forwarded_original(_load("staff_forward_inline"))
    assert sender == Address("Siti Rahmawati", "siti.rahmawati@example.test")
    assert text.startswith("Selamat pagi,")
    assert "Tolong dibuatkan PTPP" not in text


def test_forwarded_original_outlook_indonesian() -> None:
    sender, text = forwarded_original(_load("staff_forward_outlook"))
    assert sender == Address("Andi Wijaya", "andi.wijaya@example.com")
    assert text.startswith("Selamat siang,")
    assert "Mohon diproses" not in text


def _plain(body: str, subject: str = "Fwd: keluhan") -> IncomingMail:
    raw = (
        "From: Sales <sales@contoh.co.id>\nTo: keluhan@contoh.co.id\n"
        f"Subject: {subject}\nMessage-ID: <t@contoh.co.id>\n"
        "Content-Type: text/plain; charset=utf-8\n\n" + body
    )
    return parse_message(raw.encode("utf-8"))


@pytest.mark.parametrize(
    "body",
    [
        # Outlook English, old style with [mailto:]
        "FYI\n\n-----Original Message-----\nFrom: Budi Santoso [mailto:budi@example.com]\n"
        "Sent: Monday, November 24, 2025 9:15 AM\nTo: sales@contoh.co.id\n"
        "Subject: kemasan penyok\n\nIsi keluhan asli.\n",
        # Outlook new style, no marker line
        "Tolong dicek.\n\n________________________________\n"
        "From: Budi Santoso <budi@example.com>\nSent: Monday, November 24, 2025 9:15 AM\n"
        "To: Sales <sales@contoh.co.id>\nCc: Ani <ani@example.com>; Tono <tono@example.com>\n"
        "Subject: kemasan penyok\n\nIsi keluhan asli.\n",
        # Thunderbird
        "\n-------- Forwarded Message --------\nSubject: \tkemasan penyok\n"
        "Date: \tMon, 24 Nov 2025 09:15:00 +0700\nFrom: \tBudi Santoso <budi@example.com>\n"
        "To: \tsales@contoh.co.id\n\nIsi keluhan asli.\n",
        # Indonesian Gmail
        "---------- Pesan terusan ---------\nDari: Budi Santoso <budi@example.com>\n"
        "Tanggal: Sen, 24 Nov 2025 pukul 09.15\nSubjek: kemasan penyok\n"
        "Kepada: <sales@contoh.co.id>\n\n\nIsi keluhan asli.\n",
        # Apple Mail
        "Begin forwarded message:\n\nFrom: Budi Santoso <budi@example.com>\n"
        "Subject: kemasan penyok\nDate: 24 November 2025 at 09.15.00 GMT+7\n"
        "To: sales@contoh.co.id\n\nIsi keluhan asli.\n",
    ],
    ids=["outlook-mailto", "outlook-new", "thunderbird", "gmail-id", "apple"],
)
def test_forwarded_original_inline_styles(body: str) -> None:
    sender, text = forwarded_original(_plain(body))
    assert sender is not None and sender.email == "budi@example.com"
    assert sender.name == "Budi Santoso"
    assert text == "Isi keluhan asli."


def test_forwarded_original_none_found() -> None:
    mail = _plain("Keluhan langsung tanpa terusan: barang rusak.\n", subject="keluhan")
    assert forwarded_original(mail) == (None, mail.text)


# -------------------------------------------------------------------- charsets and robustness


def test_unknown_charset_still_readable() -> None:
    raw = (
        "From: a@example.com\nSubject: =?x-unknown?Q?Caf=C3=A9_rusak?=\n"
        "Content-Type: text/plain; charset=x-unknown\nContent-Transfer-Encoding: 8bit\n\n"
        "Kemasan penyok di Café Sejahtera – qty 120 pcs\n"
    ).encode()
    mail = parse_message(raw)
    assert mail.text == "Kemasan penyok di Café Sejahtera – qty 120 pcs"
    assert mail.subject == "Café rusak"
    latin = raw.replace("é".encode(), b"\xe9").replace("–".encode(), b"-")
    assert "Café Sejahtera" in parse_message(latin).text


def test_raw_utf8_headers_and_filenames() -> None:
    raw = (
        "From: Andrés Café <ANDRES@example.com>\nSubject: Keluhan – barang rusak\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain; charset=utf-8\n\nisi\n--b\n"
        "Content-Type: application/pdf\n"
        'Content-Disposition: attachment; filename="Faktur – café.pdf"\n'
        "\n%PDF\n--b--\n"
    ).encode()
    mail = parse_message(raw)
    assert mail.from_ == Address("Andrés Café", "andres@example.com")
    assert mail.subject == "Keluhan – barang rusak"
    assert mail.attachments[0].filename == "Faktur – café.pdf"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe\x00garbage",
        b"From: \nSubject:\nContent-Type: multipart/mixed\n\n--x\n",
        b"Subject: =?utf-8?Q?unterminated\nFrom: <<<@@@>>>\nDate: 99 Foo 20xx\n\nbody",
        b'Content-Type: text/plain; charset="\x00\xff"\n\nhalo\xff',
        b'Content-Type: multipart/mixed; boundary="z"\n\n--z\nContent-Type: image/png\n'
        b"Content-Transfer-Encoding: base64\n\n!!!not base64!!!\n",
        b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n%%%\n",
        b"From: a@example.com\nMessage-ID: <abc\n def@example.com>\n\nx",
    ],
)
def test_odd_input_never_raises(raw: bytes) -> None:
    mail = parse_message(raw)
    assert isinstance(mail, IncomingMail)
    assert mail.size == len(raw)
    assert mail.key


def test_truncated_message_yields_what_could_be_read() -> None:
    raw = (FIXTURES / "gmail_alternative_inline_image.eml").read_bytes()
    mail = parse_message(raw[: len(raw) // 2])
    assert mail.subject == "Foto kemasan penyok - LOT-2611-07"
    assert "kemasan penyok" in mail.text
    assert "\x00" not in parse_message(b"Subject: x\n\nnul\x00byte").text


def test_non_bytes_input_raises_type_error() -> None:
    with pytest.raises(TypeError):
        parse_message("From: a@example.com\n\nx")  # type: ignore[arg-type]
    assert parse_message(bytearray(b"Subject: ok\n\nx")).subject == "ok"


def test_deep_mime_nesting_is_bounded() -> None:
    body = b"Content-Type: text/plain\n\nisi terdalam\n"
    for i in range(2000):
        b = b"b%d" % i
        body = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\n\n--' + b + b"\n"
            + body + b"\n--" + b + b"--\n"
        )  # fmt: skip
    mail = parse_message(b"Subject: dalam\n" + body)
    assert mail.subject == "dalam"
    assert mail.defects


def test_nested_forwarded_messages_depth_bound() -> None:
    inner = (
        b"From: Pelanggan <pelanggan@example.com>\nSubject: level 0\n"
        b"Message-ID: <lvl0@example.com>\nContent-Type: text/plain\n\nkeluhan asli\n"
    )
    for level in range(1, 7):
        boundary = b"L%d" % level
        inner = (
            b"From: Staf %d <staf%d@contoh.co.id>\nSubject: level %d\n"
            b'Content-Type: multipart/mixed; boundary="%s"\n\n'
            b"--%s\nContent-Type: text/plain\n\nteruskan %d\n"
            b"--%s\nContent-Type: message/rfc822\n\n%s\n--%s--\n"
        ) % (level, level, level, boundary, boundary, level, boundary, inner, boundary)
    mail = parse_message(inner)
    depth = 0
    current = mail
    while current.forwarded:
        assert len(current.forwarded) == 1
        current = current.forwarded[0]
        depth += 1
    assert depth == MAX_FORWARD_DEPTH
    # the level beyond the bound is kept as an attachment, not dropped
    assert [a.content_type for a in current.attachments] == ["message/rfc822"]
    assert current.attachments[0].filename.endswith(".eml")
    assert mail.forwarded[0].subject == "level 5"


def test_attached_message_too_deep_to_serialise_is_still_forwarded() -> None:
    # The parser reads ~900 levels; writing the message back (its raw bytes) runs out of stack
    # much earlier. That must cost the raw bytes only, not the forwarded message.
    body = b"Content-Type: text/plain\n\nisi terdalam\n"
    for i in range(400):
        b = b"d%d" % i
        body = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\n\n--' + b + b"\n"
            + body + b"\n--" + b + b"--\n"
        )  # fmt: skip
    raw = (
        b'Subject: Fwd\nContent-Type: multipart/mixed; boundary="q"\n\n--q\n'
        b"Content-Type: message/rfc822\n\nSubject: dalam\n" + body + b"\n--q--\n"
    )
    mail = parse_message(raw)
    assert [f.subject for f in mail.forwarded] == ["dalam"]
    assert not any("RecursionError" in d for d in mail.defects)


def test_base64_encoded_message_rfc822_is_decoded() -> None:
    import base64

    inner = b"From: Budi <budi@example.com>\nSubject: asli\n\nbarang rusak\n"
    raw = (
        b'Subject: Fwd\nContent-Type: multipart/mixed; boundary="q"\n\n--q\n'
        b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(inner)
        + b"--q--\n"
    )
    mail = parse_message(raw)
    assert mail.forwarded[0].from_.email == "budi@example.com"
    assert mail.forwarded[0].text == "barang rusak"


def test_plain_text_preferred_unless_blank() -> None:
    raw = (
        b'Subject: x\nContent-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain\n\n   \n--a\nContent-Type: text/html\n\n"
        b"<p>isi <b>HTML</b></p>\n--a--\n"
    )
    assert parse_message(raw).text == "isi HTML"


def test_format_flowed_is_unwrapped() -> None:
    raw = (
        b"Subject: x\nContent-Type: text/plain; charset=utf-8; format=flowed\n\n"
        b"Kiriman kemarin kemasan \npenyok semua.\n\n> kutipan \n> panjang\n-- \nSalam\n"
    )
    text = parse_message(raw).text
    assert "Kiriman kemarin kemasan penyok semua." in text
    assert "> kutipan panjang" in text
    assert text.endswith("--\nSalam")


def test_date_without_zone_is_utc_and_bad_date_is_none() -> None:
    mail = parse_message(b"Date: Mon, 24 Nov 2025 09:15:00 -0000\nSubject: x\n\nx")
    assert mail.date is not None and mail.date.utcoffset().total_seconds() == 0
    assert parse_message(b"Date: kemarin sore\n\nx").date is None


def test_addresses() -> None:
    raw = (
        b"From: budi@example.com <budi@example.com>\n"
        b'To: "Santoso, Budi" <Budi@Example.com>, =?utf-8?Q?J=C3=B6rg?= <joerg@example.test>,'
        b" undisclosed-recipients:;\n"
        b"Cc: Ani Lestari ani@example.com\n"
        b"Reply-To: <balas@example.com>\n\nx"
    )
    mail = parse_message(raw)
    assert mail.from_ == Address("", "budi@example.com")
    assert mail.to == (
        Address("Santoso, Budi", "budi@example.com"),
        Address("Jörg", "joerg@example.test"),
    )
    assert mail.cc == (Address("Ani Lestari", "ani@example.com"),)
    assert mail.reply_to == (Address("", "balas@example.com"),)
    assert parse_message(b"From: garbage\n\nx").from_.email == ""


# -------------------------------------------------------------------- auto replies


def _msg(headers: str) -> email.message.Message:
    return email.message_from_string(headers + "\n\nbody\n", policy=email.policy.compat32)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated (vacation)", "Auto-Submitted: auto-generated"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress"),
        ("List-Id: <x.example.com>", "List-Id"),
        ("List-Unsubscribe: <mailto:u@example.com>", "List-Unsubscribe"),
        ("From: MAILER-DAEMON@example.com", "pengirim mailer-daemon"),
        ("From: postmaster@example.com", "pengirim postmaster"),
        ("From: MAILER-DAEMON (Mail Delivery System)", "pengirim mailer-daemon"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: yes", "X-Autorespond"),
        ("Subject: Automatic reply: Keluhan", "subjek balasan otomatis"),
        ("Subject: Auto Reply: cuti", "subjek balasan otomatis"),
        ("Subject: Out of Office: sampai Senin", "subjek balasan otomatis"),
        ("Subject: =?utf-8?Q?Balasan_otomatis=3A_Keluhan?=", "subjek balasan otomatis"),
        ("Subject: Undeliverable: PTPP-2025-0042", "subjek balasan otomatis"),
        ("Subject: Delivery Status Notification (Failure)", "subjek balasan otomatis"),
        ("Content-Type: multipart/report; report-type=delivery-status", "multipart/report (DSN)"),
        (
            "Content-Type: multipart/report; report-type=disposition-notification",
            "multipart/report (MDN)",
        ),
    ],
)
def test_is_auto_reply(headers: str, reason: str) -> None:
    assert reason in is_auto_reply(_msg(headers))


@pytest.mark.parametrize(
    "headers",
    [
        "From: Budi <budi@example.com>\nSubject: Keluhan barang rusak",
        "Auto-Submitted: no\nSubject: Re: Automatic reply soal keluhan",
        "Precedence: normal",
        "Subject: Re: Out of Office: sampai Senin",
    ],
)
def test_is_auto_reply_human(headers: str) -> None:
    assert is_auto_reply(_msg(headers)) == ""


def test_is_auto_reply_accepts_default_policy_messages() -> None:
    msg = email.message_from_bytes(
        b"From: a@example.com\nAuto-Submitted: auto-replied\n\nx", policy=email.policy.default
    )
    assert is_auto_reply(msg) == "Auto-Submitted: auto-replied"
