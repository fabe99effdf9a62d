"""Registration renders its Word forms before the write transaction opens (issue #10): from the
facts the complaint will be stored with and the peeked number; the transaction uses them only
when the stored complaint still matches, else renders again."""

from __future__ import annotations

import base64
import io
import sys
from datetime import datetime
from email.utils import formataddr
from pathlib import Path
from typing import Any

import pytest
from appfixture import LocalApp
from docx import Document
from docx.oxml.ns import qn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docfill import png  # noqa: E402

import mailproc.store  # noqa: E402
from mailproc import store  # noqa: E402
from mailproc.bootstrap import App, build_app  # noqa: E402
from mailproc.config import load_settings  # noqa: E402
from mailproc.forms.render import template_name  # noqa: E402
from mailproc.ptpp import documents  # noqa: E402

PHOTO = png(24, 16)


def complaint_mail(mid: str, sender: tuple[str, str], text: str,
                   photo: bool = False) -> bytes:
    """A customer's complaint; with `photo`, a PNG and a PDF attached (the PDF is no photo)."""
    head = (f"From: {formataddr(sender)}\r\nSubject: barang rusak\r\nMessage-ID: <{mid}>\r\n"
            "MIME-Version: 1.0\r\n")
    if not photo:
        return (head + f"Content-Type: text/plain\r\n\r\n{text}\r\n").encode()
    return (head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            f"--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
            "--b\r\nContent-Type: application/pdf\r\n"
            "Content-Disposition: attachment; filename=surat-jalan.pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
            "--b\r\nContent-Type: image/png\r\n"
            "Content-Disposition: attachment; filename=foto-leher-retak.png\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.b64encode(PHOTO).decode()}\r\n--b--\r\n").encode()


def add_manual(app: LocalApp, photo_path: Path | None, *, customer: str, email: str,
               description: str) -> None:
    args = ["complaints", "add", "--channel", "telepon", "--customer", customer,
            "--description", description]
    if email:
        args += ["--email", email]
    if photo_path is not None:
        args += ["--attachment", str(photo_path)]
    result = app.run(*args)
    assert result.exit_code == 0, result.output


def docx_texts(content: bytes) -> list[str]:
    """The text of every paragraph: the body's, table cells' (nested too) and the headers',
    content controls included (python-docx's Paragraph.text leaves those out)."""
    doc = Document(io.BytesIO(content))
    roots = [doc.element.body] + [section.header._element for section in doc.sections]
    return ["".join(t.text or "" for t in p.iter(qn("w:t")))
            for root in roots for p in root.iter(qn("w:p"))]


def drawings(content: bytes) -> int:
    return len(list(Document(io.BytesIO(content)).element.body.iter(qn("w:drawing"))))


def sent_docx(app: LocalApp) -> dict[str, bytes]:
    """The Word files in the mail sent so far, by file name."""
    files = {}
    for msg in app.sent():
        for part in msg.walk():
            name = part.get_filename()
            if name and name.endswith(".docx"):
                files[name] = part.get_payload(decode=True)
    return files


def open_app(local: LocalApp) -> App:
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    return build_app(settings, clock=local.clock)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bool]]:
    """Every Word form workflow renders: (template, number, inside a write transaction)."""
    seen: list[tuple[str, str, bool]] = []
    real = documents.render

    def spy(template: Any, context: Any, **kwargs: Any) -> bytes:
        seen.append((template_name(template), context["ptpp_number"],
                     store.db.in_transaction()))
        return real(template, context, **kwargs)

    monkeypatch.setattr(documents, "render", spy)
    return seen


def test_no_form_is_rendered_while_the_registration_holds_the_write_lock(
        tmp_path: Path, renders: list[tuple[str, str, bool]]):
    app = LocalApp(tmp_path)
    # Routed to a department (the PTPP goes at once) and with return words (the return form).
    app.deliver(complaint_mail("r1@example.com", ("Budi", "budi@example.com"),
                               "Botol retak, mohon retur.", photo=True))
    assert app.poll()["outcomes"] == {"complaint": 1}
    photo = tmp_path / "foto.png"
    photo.write_bytes(PHOTO)
    add_manual(app, photo, customer="CV Maju", email="maju@example.com",
               description="Botol retak, mohon retur.")
    add_manual(app, None, customer="Toko Sinar", email="",
               description="Botol retak saat diterima.")
    first, second, third = (app.clock.number(n) for n in (1, 2, 3))
    assert sorted((t, n) for t, n, _ in renders) == sorted([
        ("ptpp.docx", first), ("retur.docx", first), ("ptpp.docx", second),
        ("retur.docx", second), ("ptpp.docx", third)])
    assert [r for r in renders if r[2]] == [], "rendered inside the write transaction"
    kinds = [r["kind"] for r in app.json("outbox", "list", "--all")]
    assert kinds.count("ptpp_issue") == 3 and kinds.count("return_form") == 2


@pytest.mark.parametrize("channel", ["mail", "manual"])
def test_the_form_rendered_before_equals_the_form_of_the_stored_complaint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, channel: str):
    """For a customer already known under another name, with a photo: the pre-rendered form
    shows what the stored complaint shows (its stored name, the photo), and it is the one
    sent."""
    local = LocalApp(tmp_path)
    local.deliver(complaint_mail("old@example.com", ("Budi", "budi@example.com"),
                                 "Kemasan penyok."))
    assert local.poll()["outcomes"] == {"complaint": 1}
    made: list[documents.RegistrationForms] = []
    real = documents.prerender_on_registration

    def keep(*args: Any, **kwargs: Any) -> documents.RegistrationForms:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(documents, "prerender_on_registration", keep)
    text = "Botol retak di bagian leher, batch LOT-7 qty 12 karton, mohon retur."
    if channel == "mail":
        local.deliver(complaint_mail("new@example.com", ("Pak Budi Santoso", "budi@example.com"),
                                     text, photo=True))
        assert local.poll()["outcomes"] == {"complaint": 1}
    else:
        photo = tmp_path / "foto-leher-retak.png"
        photo.write_bytes(PHOTO)
        add_manual(local, photo, customer="Pak Budi Santoso", email="budi@example.com",
                   description=text)
    [forms] = made
    assert forms.ptpp is not None and forms.ptpp.rendered is not None
    assert forms.retur is not None and forms.retur.rendered is not None
    number = local.clock.number(2)
    app = open_app(local)
    complaint = store.complaint_by_number(number)
    assert complaint is not None and complaint.customer.name == "Budi"
    at = forms.ptpp.at
    _, before = forms.ptpp.rendered
    _, after = documents.render_ptpp(app, complaint, at)
    assert docx_texts(before) == docx_texts(after)
    assert drawings(before) == drawings(after) == 1  # the PNG; the PDF is no photo
    shown = "\n".join(docx_texts(before))
    assert number in shown and "Budi <budi@example.com>" in shown
    assert "Santoso" not in shown and "foto-leher-retak.png" in shown
    assert "surat-jalan.pdf" not in shown
    _, retur_before = forms.retur.rendered
    _, retur_after = documents.render_return_form(app, complaint, at)
    assert docx_texts(retur_before) == docx_texts(retur_after)
    # What was sent is what was rendered before the transaction.
    sent = sent_docx(local)
    slug = app.settings.numbering.slug(number)
    assert sent[f"PTPP-{slug}.docx"] == before
    assert sent[f"Klaim-Retur-{slug}.docx"] == retur_before


def part_of(content_type: str, content: bytes, headers: str) -> str:
    return (f"--b\r\nContent-Type: {content_type}\r\n{headers}"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.b64encode(content).decode()}\r\n")


@pytest.mark.parametrize("max_attachments,max_photos,shown", [(5, 3, 3), (3, 6, 2)])
def test_the_photos_foreseen_are_the_photos_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        renders: list[tuple[str, str, bool]], max_attachments: int, max_photos: int,
        shown: int):
    """The photos chosen before the transaction follow the archive's and `queries.photos`'
    rules: stored attachments only (not over limits.max_attachments), images whatever the
    case of their type, inline ones too, oldest first, at most documents.max_photos."""
    local = LocalApp(tmp_path)
    text = local.config.read_text(encoding="utf-8")
    text = text.replace("max_attachments = 20", f"max_attachments = {max_attachments}")
    local.config.write_text(text.replace("max_photos = 6", f"max_photos = {max_photos}"),
                            encoding="utf-8")
    made: list[documents.RegistrationForms] = []
    real = documents.prerender_on_registration

    def keep(*args: Any, **kwargs: Any) -> documents.RegistrationForms:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(documents, "prerender_on_registration", keep)
    attachment = "Content-Disposition: attachment; filename={}\r\n".format
    raw = ("From: Budi <budi@example.com>\r\nSubject: botol retak\r\n"
           "Message-ID: <photos@example.com>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
           "--b\r\nContent-Type: text/plain\r\n\r\nBotol retak.\r\n"
           + part_of("application/pdf", b"%PDF-1.4\n", attachment("surat.pdf"))
           + part_of("image/png", png(8, 8, 1), attachment("a.png"))
           + part_of("image/png", png(8, 8, 2), "Content-ID: <inline1@example.com>\r\n")
           + part_of("IMAGE/PNG", png(8, 8, 3), attachment("b.png"))
           + part_of("image/png", png(8, 8, 4), attachment("c.png"))
           + part_of("image/png", png(8, 8, 5), attachment("d.png"))
           + "--b--\r\n").encode()
    local.deliver(raw)
    [number] = local.poll()["registered"]
    [forms] = made
    assert forms.ptpp is not None and len(forms.ptpp.photos) == shown
    assert [r for r in renders if r[2]] == [], "the foreseen photos differ from the stored"
    app = open_app(local)
    complaint = store.complaint_by_number(number)
    rows = store.queries.photos(complaint, app.settings.max_photos)
    assert forms.ptpp.photos == tuple((r.original_filename or r.filename, r.sha256)
                                      for r in rows)


def test_a_number_taken_between_the_peek_and_the_transaction_is_rendered_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        renders: list[tuple[str, str, bool]]):
    """Another process registers between the peek and the write transaction: the forms
    rendered for the peeked number are dropped and rendered again with the number the
    complaint got."""
    local = LocalApp(tmp_path)
    real = mailproc.store.peek_sequence

    def peek_then_lose_the_race(year: int) -> int:
        seq = real(year)
        with store.transaction():  # the other process's registration
            store.next_sequence(year)
        return seq

    monkeypatch.setattr(mailproc.store, "peek_sequence", peek_then_lose_the_race)
    local.deliver(complaint_mail("race@example.com", ("Budi", "budi@example.com"),
                                 "Botol retak, mohon retur.", photo=True))
    summary = local.poll()
    peeked, got = local.clock.number(1), local.clock.number(2)
    assert summary["registered"] == [got]
    assert sorted(renders) == sorted([
        ("ptpp.docx", peeked, False), ("retur.docx", peeked, False),
        ("ptpp.docx", got, True), ("retur.docx", got, True)])
    sent = sent_docx(local)
    slug = load_settings(local.config, {}).numbering.slug(got)
    assert set(sent) == {f"PTPP-{slug}.docx", f"Klaim-Retur-{slug}.docx"}
    for content in sent.values():
        shown = "\n".join(docx_texts(content))
        assert got in shown and peeked not in shown
    [c] = local.json("complaints", "list")
    assert c["number"] == got
    shown_events = [e["kind"] for e in local.json("complaints", "show", got)["events"]]
    assert "ptpp_issued" in shown_events


def test_a_form_that_fails_before_the_transaction_is_reported_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A broken template found before the transaction: the registration goes on, the event
    and the note to marketing administration are the ones a failure inside gave."""
    local = LocalApp(tmp_path)
    real = documents.render

    def broken(template: Any, context: Any, **kwargs: Any) -> bytes:
        if template_name(template) == "ptpp.docx":
            raise ValueError("template rusak")
        return real(template, context, **kwargs)

    monkeypatch.setattr(documents, "render", broken)
    local.deliver(complaint_mail("fail@example.com", ("Budi", "budi@example.com"),
                                 "Botol retak."))
    summary = local.poll()
    [number] = summary["registered"]
    events = local.json("complaints", "show", number)["events"]
    [failed] = [e for e in events if e["kind"] == "ptpp_issue_failed"]
    assert "ValueError: template rusak" in str(failed)
    [notice] = [m for m in local.sent() if "admin.marketing@contoh.co.id" in m["To"]]
    body = notice.get_payload(decode=True).decode()
    assert "Formulir PTPP GAGAL dibuat (ValueError: template rusak)" in body
    assert not [m for m in local.sent() if "PTPP untuk Bagian" in m["Subject"]]


def test_peek_sequence_reads_without_writing(tmp_path: Path):
    local = LocalApp(tmp_path)
    open_app(local)
    year = datetime.now().year
    assert store.peek_sequence(year) == 1
    assert not store.NumberSequence.select().where(store.NumberSequence.year == year).exists()
    with store.transaction():
        assert store.next_sequence(year) == 1
    assert store.peek_sequence(year) == 2 and store.peek_sequence(year) == 2
    with store.transaction():
        assert store.next_sequence(year) == 2

