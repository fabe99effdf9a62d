"""The analysis and plan to the customer (issue #13, item 4; procedure step 7), through
Dovecot and the SMTP server: a customer who asks for it in a follow-up is flagged to
marketing administration; asked for after the plan arrived, it goes out at once (before, the
flag was set and nothing was ever sent)."""

from __future__ import annotations

from conftest import MailEnv
from docfill import fill
from test_decisions_by_mail import admin_reply, notice
from test_ptpp_forms import NUMBER, PLAN, register, reply_to, text, the_form

ANALYSIS = "Analisis dan rencana tindakan"


def _customer(mailenv: MailEnv) -> str:
    return mailenv.customer("budi.santoso", "mitra-pangan.example.com")


def test_asked_for_in_a_follow_up_then_sent_at_once(mailenv: MailEnv):
    issued = register(mailenv)
    qc = mailenv.addr("qc")
    mailenv.deliver(reply_to(issued, qc, "Terlampir.", [("PTPP.docx",
                                                          fill(the_form(issued), PLAN))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_planned": 1}
    customer = _customer(mailenv)
    got = mailenv.received(customer)  # the acknowledgement (and the return-claim form)
    ack = got[0]
    assert not [m for m in got if ANALYSIS in m["Subject"]]  # nobody asked yet

    # The customer asks, in a reply to the acknowledgement: flagged, nothing sent.
    mailenv.deliver(reply_to(ack, f"Budi Santoso <{customer}>",
                             "Selamat siang,\n\nMohon dikirimkan hasil analisanya ke kami.\n\n"
                             "Terima kasih,\nBudi"))
    assert mailenv.poll()["outcomes"] == {"follow_up": 1}
    flagged = notice(mailenv, "Tanggapan lanjutan")
    assert "Pelanggan meminta hasil analisis" in text(flagged)
    assert "KIRIM ANALISIS: YA" in text(flagged)
    kinds = [e["kind"] for e in mailenv.show(NUMBER)["events"]]
    assert kinds.count("analysis_requested") == 1
    assert len(mailenv.received(customer)) == len(got)

    # Marketing administration agrees by replying to that notice: the plan, which arrived
    # before, goes to the customer now.
    mailenv.deliver(admin_reply(mailenv, flagged, ["KIRIM ANALISIS: YA"], "plain"))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    sent = [m for m in mailenv.received(customer) if ANALYSIS in m["Subject"]]
    assert len(sent) == 1
    body = text(sent[0])
    assert "Yth. Budi Santoso" in body and "Pengendali suhu mesin blow molding 3 aus" in body
    assert list(sent[0].iter_attachments()) == []  # the analysis, not the internal form
    confirmation = notice(mailenv, "Keputusan dicatat")
    assert "siklus 1 telah dikirim ke pelanggan" in text(confirmation)

    # Asked again: it was sent already, nothing goes twice; a second follow-up asking for it
    # is no longer flagged (the request stands).
    mailenv.deliver(admin_reply(mailenv, flagged, ["KIRIM ANALISIS: YA"], "plain"))
    mailenv.deliver(reply_to(ack, customer, "Mohon dikirim analisisnya lagi ya."))
    mailenv.poll()
    assert len([m for m in mailenv.received(customer) if ANALYSIS in m["Subject"]]) == 1
    kinds = [e["kind"] for e in mailenv.show(NUMBER)["events"]]
    assert kinds.count("analysis_requested") == 1


def test_asked_for_by_command_before_the_plan_goes_with_the_plan(mailenv: MailEnv):
    issued = register(mailenv)
    said = mailenv.run("complaints", "send-analysis", NUMBER, "--by", "rina")
    assert said.exit_code == 0 and "when the department sends it" in said.output
    customer = _customer(mailenv)
    assert not [m for m in mailenv.received(customer) if ANALYSIS in m["Subject"]]
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Terlampir.",
                             [("PTPP.docx", fill(the_form(issued), PLAN))]))
    mailenv.poll()
    assert len([m for m in mailenv.received(customer) if ANALYSIS in m["Subject"]]) == 1


def test_asked_for_by_command_after_the_plan_is_sent_by_the_command(mailenv: MailEnv):
    issued = register(mailenv)
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Terlampir.",
                             [("PTPP.docx", fill(the_form(issued), PLAN))]))
    mailenv.poll()
    said = mailenv.run("complaints", "send-analysis", NUMBER, "--by", "rina")
    assert said.exit_code == 0, said.output
    assert "cycle 1 sent to the customer (outbox: sent 1" in said.output
    customer = _customer(mailenv)
    assert len([m for m in mailenv.received(customer) if ANALYSIS in m["Subject"]]) == 1
