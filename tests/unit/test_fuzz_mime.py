"""Fuzzing the intake (issue #12, item 7) with hypothesis: MIME trees, headers, charsets,
transfer encodings and attachments, well-formed or not. The parser returns a mail for any
bytes (never raises), and the pipeline leaves no mail in the inbox and loses none: each ends
as a complaint, a follow-up, an ignored mail or a quarantined one."""

from __future__ import annotations

import base64
import mailbox
import quopri
import sqlite3
from pathlib import Path

from appfixture import LocalApp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailproc.intake.parse import IncomingMail, parse_message

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "utf-16", "x-unknown-8",
            "gb2312", ""]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"]
TYPES = ["text/plain", "text/html", "application/octet-stream", "image/png",
         "application/pdf", "application/vnd.openxmlformats-officedocument."
         "wordprocessingml.document", "message/rfc822", "text/calendar", "garbage"]

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
header_values = st.one_of(
    texts,
    st.builds(lambda t, cs: f"=?{cs or 'utf-8'}?B?{base64.b64encode(t.encode()).decode()}?=",
              texts, st.sampled_from(CHARSETS)),
    st.builds(lambda t: f"=?utf-8?Q?{t}?=", st.text(max_size=40)),  # broken encoded words
    st.just("Pelanggan <pelanggan@example.com>"),
    st.just("<<<@@>>>"), st.just("\"unterminated <x@y"),
)


def _encode(payload: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(payload)
    if cte == "quoted-printable":
        return quopri.encodestring(payload)
    return payload


@st.composite
def leaf(draw) -> bytes:
    ctype = draw(st.sampled_from(TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    if draw(st.booleans()):
        payload = draw(texts).encode(draw(st.sampled_from(["utf-8", "latin-1"])),
                                     errors="replace")
    else:
        payload = draw(st.binary(max_size=300))
    name = draw(st.one_of(st.none(), texts, st.just("../../etc/passwd"),
                          st.just("foto.png"), st.just("PTPP.docx")))
    head = f"Content-Type: {ctype}" + (f"; charset={charset}" if charset else "")
    head += f"\r\nContent-Transfer-Encoding: {cte}"
    if name is not None:
        head += f'\r\nContent-Disposition: attachment; filename="{name}"'
    return head.encode("utf-8", "replace") + b"\r\n\r\n" + _encode(payload, cte)


def tree(depth: int = 0):
    if depth >= 2:
        return leaf()
    return st.one_of(leaf(), st.builds(
        lambda kind, boundary, parts, broken: (
            f"Content-Type: multipart/{kind}; boundary=\"{boundary}\"\r\n\r\n".encode()
            + b"".join(f"--{boundary}\r\n".encode() + p + b"\r\n" for p in parts)
            + (b"" if broken else f"--{boundary}--\r\n".encode())),
        st.sampled_from(["mixed", "alternative", "related", "report", "x-weird"]),
        st.sampled_from(["b1", "=_part", "x" * 70, "b1"]),
        st.lists(tree(depth + 1), max_size=4),
        st.booleans()))


@st.composite
def raw_mail(draw) -> bytes:
    headers = []
    for name in ("From", "To", "Subject", "Message-ID", "In-Reply-To", "Date", "Reply-To",
                 "Auto-Submitted"):
        if draw(st.booleans()):
            headers.append(f"{name}: {draw(header_values)}")
    extra = draw(st.lists(st.tuples(st.text(alphabet="abcXYZ-", min_size=1, max_size=10),
                                    header_values), max_size=3))
    headers += [f"{k}: {v}" for k, v in extra]
    head = "\r\n".join(h.replace("\r", " ").replace("\n", " ") for h in headers)
    body = draw(tree())
    if draw(st.booleans()):  # now and then a line break style of its own, or a NUL
        body = body.replace(b"\r\n", b"\n") + draw(st.sampled_from([b"", b"\x00", b"\r"]))
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_mail())
def test_the_parser_returns_a_mail_for_any_bytes(raw: bytes):
    mail = parse_message(raw, max_attachment_bytes=200)
    assert isinstance(mail, IncomingMail)
    assert mail.key and isinstance(mail.text, str) and isinstance(mail.subject, str)
    for att in mail.attachments:
        assert "/" not in att.filename and att.filename not in ("", ".", "..")


def _inbox_left(root: Path) -> int:
    box = mailbox.Maildir(str(root / "var" / "inbox"), create=False)
    return sum(1 for _ in box.iterkeys())


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(raw_mail(), min_size=1, max_size=6))
def test_the_pipeline_leaves_no_mail_behind_and_loses_none(tmp_path_factory, mails):
    root = tmp_path_factory.mktemp("fuzz")
    local = LocalApp(root)
    for raw in mails:
        local.deliver(raw)
    box = mailbox.Maildir(str(root / "var" / "inbox"), create=False)
    delivered = {box.get_bytes(key) for key in box.iterkeys()}  # as the Maildir keeps them
    summary = local.poll()
    assert summary["fetched"] == len(mails)
    assert sum(summary["outcomes"].values()) == len(mails), summary
    assert _inbox_left(root) == 0
    assert local.poll()["fetched"] == 0  # nothing twice
    db = sqlite3.connect(root / "var" / "mailproc.db")
    stored = db.execute("select count(*) from message where direction = 'in'").fetchone()[0]
    db.close()
    # Every mail kept once: a mail with the same bytes as one before it is that mail again.
    assert stored == len(delivered)
    assert local.run("audit", "verify").exit_code == 0
