"""Complaint mail in through a real Dovecot, acknowledgements and notices out through a real
SMTP server, read back from the recipients' real mailboxes."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from conftest import REPO, MailEnv
from testclock import TestClock

EXAMPLES = REPO / "examples" / "inbox"
NUMBER = TestClock().number(1)  # the first complaint of a MailEnv (which runs on a TestClock)


def complaint(sender: str, subject: str, body: str, message_id: str | None = None,
              **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "keluhan@contoh.co.id"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return bytes(msg)


def test_complaint_is_registered_archived_acknowledged_and_announced(mailenv: MailEnv):
    raw = mailenv.sample("01-botol-retak.eml")
    mailenv.deliver(raw)
    summary = mailenv.poll()
    assert summary["outcomes"] == {"complaint": 1}
    assert summary["registered"] == [NUMBER]
    # acknowledgement, notice, the PTPP form to QC, the return-claim form ("mohon diganti")
    assert summary["sent"] == 4

    # The customer's acknowledgement: number in the subject, threaded, automatic.
    [ack, retur] = mailenv.received(mailenv.customer("budi.santoso", "mitra-pangan.example.com"))
    assert ack["Subject"] == f"[{NUMBER}] Keluhan Anda telah kami terima"
    assert ack["In-Reply-To"] == f"<sample-01@mitra-pangan.{mailenv.tok}.example.com>"
    assert ack["Auto-Submitted"] == "auto-replied"
    body = ack.get_content()
    assert "Yth. Budi Santoso" in body and NUMBER in body
    assert retur["Subject"] == f"[{NUMBER}] Formulir Permintaan Klaim Retur"
    [form] = [p for p in retur.iter_attachments()]
    assert form.get_filename() == f"Klaim-Retur-{NUMBER.replace('/', '-')}.docx"

    # The department the rules chose receives the PTPP form, the operations manager in copy.
    [issued] = mailenv.received("qc")
    assert issued["Subject"].startswith(f"[{NUMBER}] PTPP untuk Bagian Quality")
    assert issued["Cc"] == mailenv.addr("ops")
    [docx] = [p for p in issued.iter_attachments()]
    assert docx.get_filename() == f"PTPP-{NUMBER.replace('/', '-')}.docx"

    # Marketing administration and the operations manager are told, in one mail.
    [notice] = mailenv.received("admin")
    assert notice["Cc"] == mailenv.addr("ops")
    assert f"[{NUMBER}] Keluhan baru" in notice["Subject"]
    text = notice.get_content()
    assert "LOT-2611-07" in text and "Quality Control" in text and "120 pcs" in text
    assert len(mailenv.received("ops")) == 2  # the notice and the PTPP in copy

    # The mail left INBOX for Processed, after it was recorded.
    assert mailenv.dovecot.fetch_raw(mailenv.inbox) == []
    assert len(mailenv.dovecot.fetch_raw(mailenv.inbox, "Processed")) == 1

    shown = mailenv.show(NUMBER)
    assert shown["status"] == "issued" and shown["department"] == "qc"
    assert shown["customer"] == mailenv.customer("budi.santoso", "mitra-pangan.example.com")
    assert shown["first_response_at"] is not None
    assert shown["fields"]["batch"] == "LOT-2611-07"
    [incoming] = [m for m in shown["messages"] if m["direction"] == "in"]
    archived = mailenv.root / "archive" / incoming["archive"]
    # Byte for byte what the server holds: the original plus the delivery headers on top.
    assert archived.read_bytes().replace(b"\r\n", b"\n").endswith(raw.replace(b"\r\n", b"\n"))
    [att] = shown["attachments"]
    assert att["filename"] == "foto-retak.png" and att["status"] == "stored"
    assert (mailenv.root / "archive" / att["archive"]).read_bytes().startswith(b"\x89PNG")
    # The raw mail and its photo, then each form sent, named with their sha256 in the chain.
    files = [e["data"]["files"] for e in shown["events"] if e["kind"] == "files_archived"]
    assert [f["path"] for f in files[0]] == [shown["messages"][0]["archive"], att["archive"]]
    assert [f[0]["path"] for f in files[1:]] == [d["archive"] for d in shown["documents"]]
    kinds = [e["kind"] for e in shown["events"] if e["kind"] != "files_archived"]
    assert kinds[:2] == ["mail_received", "complaint_registered"]
    assert kinds.count("mail_sent") == 4 and "ptpp_issued" in kinds

    # Polling again registers nothing and sends nothing.
    again = mailenv.poll()
    assert (again["fetched"], again["sent"]) == (0, 0)
    assert len(mailenv.received("admin")) == 1


def test_every_sample_ends_somewhere_and_nothing_twice(mailenv: MailEnv):
    for eml in sorted(EXAMPLES.glob("*.eml")):
        mailenv.deliver(mailenv.sample(eml.name))
    # A staff mail without a customer inside, and an empty mail: quarantined.
    mailenv.deliver(complaint(mailenv.addr("sales"), "rapat besok", "Jam 9 ya."))
    mailenv.deliver(b"From: x@example.com\r\nMessage-ID: <empty@example.com>\r\n\r\n")
    summary = mailenv.poll()
    assert summary["outcomes"] == {"complaint": 4, "forwarded_complaint": 1, "auto_reply": 1,
                                   "quarantined": 2}
    assert mailenv.dovecot.fetch_raw(mailenv.inbox) == []
    assert len(mailenv.dovecot.fetch_raw(mailenv.inbox, "Processed")) == 6
    assert len(mailenv.dovecot.fetch_raw(mailenv.inbox, "Quarantine")) == 2
    # Admin: 5 new-complaint notices + 2 quarantine notices. The auto-reply got no answer.
    admin = mailenv.received("admin")
    assert sum("Keluhan baru" in m["Subject"] for m in admin) == 5
    assert sum("dikarantina" in m["Subject"] for m in admin) == 2
    assert mailenv.received(mailenv.customer("joko", "mitra-pangan.example.com")) == []

    # The staff forward: the customer is the complainant, the staff member received it,
    # the acknowledgement goes to the customer with the staff member in copy.
    listing = json.loads(mailenv.run("complaints", "list", "--json").stdout)
    forwarded = next(c for c in listing if c["received_by"])
    assert forwarded["customer"] == mailenv.customer("hendra", "kopi-nusantara.example.com")
    assert forwarded["received_by"] == "sales@contoh.co.id"
    [ack, retur] = mailenv.received(mailenv.customer("hendra", "kopi-nusantara.example.com"))
    assert ack["Cc"] == "sales@contoh.co.id"
    assert "Klaim Retur" in retur["Subject"]  # "mohon ditukar"
    triage = [c for c in listing if c["status"] == "triage"]
    assert [c["customer"] for c in triage] == [mailenv.customer("rina.k", "example.com")]

    # The same mail delivered again (a client resending it) is recognised, not registered.
    mailenv.deliver(mailenv.sample("02-terlambat.eml"))
    again = mailenv.poll()
    assert again["outcomes"] == {"duplicate": 1} and again["sent"] == 0
    assert len(json.loads(mailenv.run("complaints", "list", "--json").stdout)) == 5


def test_reply_with_changed_subject_threads_to_its_complaint(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("02-terlambat.eml"))
    mailenv.poll()
    [ack] = mailenv.received(mailenv.customer("sari", "tokosejahtera.example.com"))
    sari = mailenv.customer("sari", "tokosejahtera.example.com")
    reply = complaint(f'"Sari Wulandari" <{sari}>',
                      "Info tambahan pengiriman", "Nomor PO yang benar 8812-B.",
                      In_Reply_To=ack["Message-ID"], References=ack["Message-ID"])
    mailenv.deliver(reply)
    # A second follow-up with only the number in the subject.
    mailenv.deliver(complaint(mailenv.customer("sari", "tokosejahtera.example.com"),
                              f"Re: {NUMBER} kapan dikirim?", "Mohon kabar."))
    summary = mailenv.poll()
    assert summary["outcomes"] == {"follow_up": 2}
    shown = mailenv.show(NUMBER)
    follow = [m for m in shown["messages"] if m["kind"] == "follow_up"]
    assert [m["subject"] for m in follow] == ["Info tambahan pengiriman",
                                             f"Re: {NUMBER} kapan dikirim?"]
    assert "In-Reply-To" in follow[0]["reason"] and "subjek" in follow[1]["reason"]
    notices = [m for m in mailenv.received("admin") if "Tanggapan lanjutan" in m["Subject"]]
    assert len(notices) == 2
    assert "8812-B" in notices[0].get_content()
    # No new acknowledgement for follow-ups.
    assert len(mailenv.received(mailenv.customer("sari", "tokosejahtera.example.com"))) == 1


def test_keep_in_place_marks_with_a_keyword(mailenv: MailEnv):
    mailenv.write_config(mode="keep")
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    mailenv.deliver(complaint(mailenv.addr("sales"), "halo", "bukan keluhan"))
    summary = mailenv.poll()
    assert summary["outcomes"] == {"complaint": 1, "quarantined": 1}
    with mailenv.dovecot.mailbox(mailenv.inbox) as box:
        flags = [m.flags for m in box.fetch(mark_seen=False, headers_only=True)]
        assert not box.folder.exists("Processed")
    assert [("$MailprocProcessed" in f, "$MailprocQuarantined" in f) for f in flags] == [
        (True, False), (False, True)]
    assert mailenv.poll()["fetched"] == 0


def test_move_does_not_expunge_other_clients_deleted_mail(mailenv: MailEnv):
    # Another client flagged a mail \Deleted without expunging it. A COPY+EXPUNGE fallback
    # (imaplib's stale pre-login capabilities) would destroy it; UID MOVE must not.
    mailenv.dovecot.append(mailenv.inbox, complaint("x@example.com", "hapus", "nanti"),
                           flags=[r"\Deleted"])
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    summary = mailenv.poll()
    assert summary["outcomes"].get("complaint") == 1
    remaining = mailenv.dovecot.fetch_raw(mailenv.inbox)
    assert len(remaining) == 1 and b"Subject: hapus" in remaining[0]


def test_uidvalidity_change_rescans_without_double_processing(mailenv: MailEnv):
    mailenv.dovecot.append(mailenv.inbox, mailenv.sample("03-tagihan.eml"),
                           folder="Keluhan")
    mailenv.write_config(folder="Keluhan", mode="keep")
    assert mailenv.poll()["outcomes"] == {"complaint": 1}
    # Recreate the folder: same mail, new UIDVALIDITY, and no keyword on it any more.
    with mailenv.dovecot.mailbox(mailenv.inbox, initial_folder=None) as box:
        box.folder.delete("Keluhan")
    mailenv.dovecot.append(mailenv.inbox, mailenv.sample("03-tagihan.eml"),
                           folder="Keluhan")
    again = mailenv.poll()
    assert again["outcomes"] == {"duplicate": 1} and again["sent"] == 0


def test_oversized_mail_is_quarantined_without_download(mailenv: MailEnv):
    mailenv.write_config(extra="[limits]\nmax_message_bytes = 4000")
    big = complaint("besar@example.com", "Foto besar", "lampiran\n" + "x" * 10_000)
    mailenv.deliver(big)
    mailenv.deliver(mailenv.sample("04-layanan.eml"))  # the mail behind it goes on
    summary = mailenv.poll()
    assert summary["outcomes"] == {"quarantined": 1, "complaint": 1}
    [notice] = [m for m in mailenv.received("admin") if "dikarantina" in m["Subject"]]
    assert "terlalu besar" in notice.get_content()
    assert len(mailenv.dovecot.fetch_raw(mailenv.inbox, "Quarantine")) == 1


def test_per_sender_limit_on_acknowledgements(mailenv: MailEnv):
    mailenv.write_config(extra="[limits]\nauto_replies_per_sender_per_day = 2")
    for i in range(3):
        mailenv.deliver(complaint(mailenv.customer("loop", "example.com"), f"Barang rusak {i}",
                                  "rusak lagi"))
    summary = mailenv.poll()
    assert summary["outcomes"] == {"complaint": 3}
    assert len(mailenv.received(mailenv.customer("loop", "example.com"))) == 2
    notices = [m for m in mailenv.received("admin") if "Keluhan baru" in m["Subject"]]
    assert "TIDAK dikirim otomatis" in notices[-1].get_content()


def test_smtp_down_defers_then_sends_once(mailenv: MailEnv):
    mailenv.relay.stop()
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    summary = mailenv.poll()
    assert summary["registered"] == [NUMBER]
    assert (summary["sent"], summary["deferred"]) == (0, 3)
    listed = json.loads(mailenv.run("outbox", "list", "--json").stdout)
    assert [r["status"] for r in listed] == ["queued", "queued", "queued"]
    assert all(r["attempts"] == 1 and r["last_error"] for r in listed)
    mailenv.relay.start()
    mailenv.relay.fail_next(1)  # one temporary refusal on top
    import time

    time.sleep(1.1)  # backoff_seconds = 1 in the test config
    first = mailenv.run("outbox", "flush")
    time.sleep(2.1)
    second = mailenv.run("outbox", "flush")
    assert "sent" in first.output and second.exit_code == 0, (first.output, second.output)
    assert len(mailenv.received(mailenv.customer("finance", "bangun-jaya.example.com"))) == 1
    assert len(mailenv.received("admin")) == 1
    assert mailenv.run("outbox", "flush").output.startswith("sent 0")


def test_imaps_verifies_the_certificate(mailenv: MailEnv):
    mailenv.write_config(tls=True)
    result = mailenv.run("poll")
    assert result.exit_code == 1
    assert "not trusted" in result.output and "mailbox.ca_file" in result.output
    mailenv.write_config(tls=True, ca_file=str(mailenv.dovecot.ca_file))
    mailenv.deliver(mailenv.sample("04-layanan.eml"))
    assert mailenv.poll()["outcomes"] == {"complaint": 1}


def test_password_is_never_logged(mailenv: MailEnv, caplog):
    mailenv.write_config()
    result = mailenv.run("-v", "poll", env={"MAILPROC_MAILBOX_PASSWORD": "wrong-secret"})
    assert result.exit_code == 1
    assert "refused" in result.output and "MAILPROC_MAILBOX_PASSWORD" in result.output
    assert "wrong-secret" not in result.output
    assert "wrong-secret" not in caplog.text


def test_archive_paths_stay_inside_the_archive(mailenv: MailEnv):
    evil = EmailMessage()
    evil["From"] = "a@example.com"
    evil["Subject"] = "lampiran aneh"
    evil["Message-ID"] = "<../../etc/passwd@example.com>"
    evil.set_content("kemasan rusak")
    evil.add_attachment(b"data", maintype="application", subtype="octet-stream",
                        filename="../../../../tmp/evil.sh")
    mailenv.deliver(bytes(evil))
    mailenv.poll()
    shown = mailenv.show(NUMBER)
    [att] = shown["attachments"]
    path = (mailenv.root / "archive" / att["archive"]).resolve()
    assert path.is_relative_to((mailenv.root / "archive").resolve())
    assert ".." not in Path(att["archive"]).parts


def test_a_mail_left_in_place_holds_the_position_and_is_fetched_again(
        mailenv: MailEnv, monkeypatch):
    """A mail whose processing failed beyond quarantining stays in INBOX; the mails after it
    in its batch are recorded and moved, but the stored position stops before it, so the next
    poll fetches it again (group commit must not let a batch's later marks pass it)."""
    from mailproc.intake import services

    for n in (1, 2, 3):
        mailenv.deliver(complaint(mailenv.customer(f"hold{n}", "example.com"),
                                  f"Barang rusak {n}", "Botol retak saat diterima."))
    real = services.process_mail

    def broken(app, fetched, **kwargs):
        if b"Barang rusak 2" in fetched.raw:
            raise RuntimeError("database hiccup")  # not a mail problem: left in place
        return real(app, fetched, **kwargs)

    monkeypatch.setattr(services, "process_mail", broken)
    first = mailenv.poll()
    assert first["outcomes"] == {"complaint": 2} and len(first["errors"]) == 1
    with mailenv.dovecot.mailbox(mailenv.inbox) as box:
        left = [m.subject for m in box.fetch(mark_seen=False)]
    assert left == ["Barang rusak 2"]
    monkeypatch.undo()
    again = mailenv.poll()
    assert again["outcomes"] == {"complaint": 1} and again["errors"] == []
    with mailenv.dovecot.mailbox(mailenv.inbox) as box:
        assert list(box.fetch(mark_seen=False)) == []


def test_an_idle_poll_answers_from_status_and_new_mail_still_comes_in(
        mailenv: MailEnv, monkeypatch):
    """Keep mode over mail marked processed before (here: by another installation, so no
    position is stored): the first poll's empty SEARCH moves the stored position to
    UIDNEXT - 1, and the next idle poll neither SELECTs nor SEARCHes the folder (STATUS
    alone). Mail that arrives afterwards is fetched as usual."""
    import imaplib

    mailenv.write_config(mode="keep")
    for n in (1, 2):
        mailenv.dovecot.append(mailenv.inbox, complaint(
            mailenv.customer(f"idle{n}", "example.com"), f"Barang rusak {n}", "Botol retak."),
            flags=["$MailprocProcessed"])
    commands: list[str] = []
    real_command = imaplib.IMAP4._command

    def spy(self, name, *args):
        commands.append(name if name != "UID" else f"UID {args[0]}")
        return real_command(self, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_command", spy)
    assert mailenv.poll()["fetched"] == 0
    assert "SELECT" in commands and "UID SEARCH" in commands, commands
    commands.clear()
    assert mailenv.poll()["fetched"] == 0
    assert "STATUS" in commands, commands
    assert "SELECT" not in commands and not [c for c in commands if c.startswith("UID")], commands
    mailenv.deliver(complaint(mailenv.customer("idle3", "example.com"), "Barang rusak 3",
                              "Kemasan penyok."))
    later = mailenv.poll()
    assert later["outcomes"] == {"complaint": 1}
    assert mailenv.poll()["fetched"] == 0


def test_a_missing_folder_is_named_with_the_folders_there(mailenv: MailEnv):
    mailenv.write_config(folder="TidakAda", mode="keep")
    result = mailenv.run("poll", "--json")
    assert result.exit_code != 0
    assert "TidakAda" in result.output and "INBOX" in result.output
