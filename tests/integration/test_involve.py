"""Other functions involved (issue #13, item 3; procedure step 6), through Dovecot: marketing
administration involves Produksi in QC's PTPP; Produksi gets the form and the customer's
original mail, replies, and its reply is a staff message on the complaint; QC still submits
the form."""

from __future__ import annotations

import email
import email.policy

from conftest import MailEnv
from docfill import fill
from test_decisions_by_mail import admin_reply, notice
from test_ptpp_forms import NUMBER, PLAN, register, reply_to, text, the_form


def test_involve_by_reply_then_the_department_answers(mailenv: MailEnv):
    issued = register(mailenv)
    new = notice(mailenv, "Keluhan baru")
    assert "LIBATKAN:" in text(new)
    mailenv.deliver(admin_reply(mailenv, new, ["LIBATKAN: Produksi",
                                               "CATATAN: cek catatan suhu mesin 3"], "plain"))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    assert "Bagian Produksi dilibatkan" in text(notice(mailenv, "Keputusan dicatat"))
    [asked] = mailenv.received("produksi")
    assert "Permintaan keterlibatan Bagian Produksi" in asked["Subject"]
    assert mailenv.addr("qc") in asked["Cc"] and mailenv.addr("admin") in asked["Cc"]
    body = text(asked)
    assert "Penanggung jawab PTPP ini tetap Bagian Quality Control" in body
    files = {p.get_filename(): p.get_payload(decode=True) for p in asked.iter_attachments()}
    [form_name] = [n for n in files if n.endswith(".docx")]
    assert files[form_name] == the_form(issued)  # the form QC got
    [original_name] = [n for n in files if n.endswith(".eml")]
    original = email.message_from_bytes(files[original_name], policy=email.policy.default)
    assert "botol PET retak" in original["Subject"]  # the customer's own mail, whole

    # Produksi answers: a staff message on the complaint; nothing moves.
    mailenv.deliver(reply_to(asked, mailenv.addr("produksi"),
                             "Suhu mesin 3 tercatat naik turun pada 18-19 November."))
    assert mailenv.poll()["outcomes"] == {"staff_message": 1}
    shown = mailenv.show(NUMBER)
    assert shown["status"] == "issued"
    from_produksi = [m for m in shown["messages"] if m["from"] == mailenv.addr("produksi")]
    assert [m["kind"] for m in from_produksi] == ["staff_message"]
    [involved] = [e for e in shown["events"] if e["kind"] == "department_involved"]
    assert involved["actor"] == mailenv.addr("admin")

    # A form from Produksi does not count: QC's does.
    mailenv.deliver(reply_to(asked, mailenv.addr("produksi"), "Kami isi saja.",
                             [("PTPP.docx", fill(the_form(issued), PLAN))]))
    assert mailenv.poll()["outcomes"] == {"quarantined": 1}
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Terlampir.",
                             [("PTPP.docx", fill(the_form(issued), PLAN))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_planned": 1}


def test_involve_by_command_and_its_refusals(mailenv: MailEnv):
    register(mailenv)
    same = mailenv.run("ptpp", "involve", NUMBER, "qc")
    assert same.exit_code != 0 and "responsible department already" in same.output
    unknown = mailenv.run("ptpp", "involve", NUMBER, "pemasaran")
    assert unknown.exit_code != 0 and "unknown department" in unknown.output
    done = mailenv.run("ptpp", "involve", NUMBER, "gudang", "--note", "cek stok retur",
                       "--by", "rina")
    assert done.exit_code == 0 and "Gudang involved" in done.output
    [asked] = mailenv.received("gudang")
    assert "cek stok retur" in text(asked)
