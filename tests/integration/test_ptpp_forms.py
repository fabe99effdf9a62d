"""The PTPP form's round trip through real mailboxes: the department receives the form, replies
with it filled (by Word-style filling, and once saved by LibreOffice), and the PTPP moves."""

from __future__ import annotations

import json
import subprocess
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from conftest import MailEnv
from docfill import fill
from testclock import TestClock

# Every MailEnv runs mailproc on a TestClock, so its first complaint gets this number.
NUMBER = TestClock().number(1)


def future(days: int) -> str:
    return TestClock().date_in(days)


PLAN = {
    "correction": "Botol retak dipisahkan dan diganti dengan pengiriman ulang.",
    "correction_date": future(1),
    "correction_by": "Supervisor QC",
    "why_1": "Leher botol retak",
    "why_2": "Suhu cetakan tidak stabil",
    "category_6m": "Mesin",
    "root_cause": "Pengendali suhu mesin blow molding 3 aus",
    "action_1_cause": "Pengendali suhu aus",
    "action_1_corrective": "Ganti pengendali suhu mesin 3",
    "action_1_preventive": "Cek suhu tiap awal shift",
    "action_1_pic": "Kepala Produksi",
    "action_1_target": future(14),
}
DONE = PLAN | {"completion_date": future(0),  # done today: never in the future
               "completion_evidence": "Foto pengendali baru dan catatan suhu 3 shift"}


def reply_to(original: EmailMessage, sender: str, body: str,
             attachments: list[tuple[str, bytes]] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = original["From"]
    msg["Subject"] = "RE: " + original["Subject"]
    msg["Message-ID"] = make_msgid(domain="contoh.co.id")
    msg["In-Reply-To"] = original["Message-ID"]
    msg["References"] = original["Message-ID"]
    msg.set_content(body)
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(msg)


def text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def the_form(message: EmailMessage) -> bytes:
    [part] = [p for p in message.iter_attachments() if p.get_filename().endswith(".docx")]
    return part.get_payload(decode=True)


def register(mailenv: MailEnv) -> EmailMessage:
    mailenv.deliver(mailenv.sample("01-botol-retak.eml"))
    assert mailenv.poll()["registered"] == [NUMBER]
    [issued] = mailenv.received("qc")
    return issued


def test_department_plans_then_reports_completion(mailenv: MailEnv):
    issued = register(mailenv)
    qc = mailenv.addr("qc")
    form = the_form(issued)

    # An incomplete plan: told exactly what is missing, the PTPP does not move.
    half = fill(form, {k: v for k, v in PLAN.items() if k != "action_1_pic"})
    mailenv.deliver(reply_to(issued, qc, "Terlampir analisis.", [("PTPP.docx", half)]))
    assert mailenv.poll()["outcomes"] == {"form_refused": 1}
    problem = mailenv.received(qc)[-1]
    assert problem["Subject"] == f"[{NUMBER}] Formulir belum dapat diproses"
    assert "Tindakan baris 1: PIC wajib diisi" in text(problem)
    assert mailenv.show(NUMBER)["status"] == "issued"

    # The complete plan: planned; the department gets a confirmation; sales & marketing get
    # the analysis and plan with the filled form.
    mailenv.deliver(reply_to(issued, qc, "Revisi.", [("PTPP.docx", fill(form, PLAN))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_planned": 1}
    shown = mailenv.show(NUMBER)
    assert shown["status"] == "planned"
    confirmation = mailenv.received(qc)[-1]
    assert "Formulir PTPP diterima" in confirmation["Subject"]
    [plan] = mailenv.received("sales")
    body = text(plan)
    assert "Pengendali suhu mesin blow molding 3 aus" in body
    assert "Ganti pengendali suhu mesin 3" in body and "Kepala Produksi" in body
    assert [p.get_filename() for p in plan.iter_attachments()] == ["PTPP.docx"]
    assert plan["Cc"] == mailenv.addr("admin")

    # Completion on the same form: implemented; marketing administration is told.
    mailenv.deliver(reply_to(issued, qc, "Selesai.", [("PTPP.docx", fill(form, DONE))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_implemented": 1}
    assert mailenv.show(NUMBER)["status"] == "implemented"
    done = [m for m in mailenv.received("admin") if "menunggu evaluasi" in m["Subject"]]
    assert len(done) == 1 and "Foto pengendali baru" in text(done[0])
    events = [e["kind"] for e in mailenv.show(NUMBER)["events"]]
    assert events.count("form_refused") == 1
    steps = ("ptpp_issued", "ptpp_planned", "ptpp_implemented")
    assert [k for k in events if k in steps] == list(steps)


def test_a_form_from_someone_else_is_quarantined(mailenv: MailEnv):
    issued = register(mailenv)
    form = fill(the_form(issued), PLAN)
    mailenv.deliver(reply_to(issued, mailenv.addr("gudang"), "Dari gudang", [("PTPP.docx", form)]))
    assert mailenv.poll()["outcomes"] == {"quarantined": 1}
    assert mailenv.show(NUMBER)["status"] == "issued"
    [notice] = [m for m in mailenv.received("admin") if "dikarantina" in m["Subject"]]
    assert "bukan bagian yang ditugaskan" in text(notice)


def test_bad_attachments_get_a_clear_answer(mailenv: MailEnv):
    issued = register(mailenv)
    qc = mailenv.addr("qc")
    legacy = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    mailenv.deliver(reply_to(issued, qc, "versi lama", [("PTPP.doc", legacy)]))
    mailenv.deliver(reply_to(issued, qc, "hasil scan", [("PTPP.pdf", b"%PDF-1.4\n%%EOF\n")]))
    mailenv.deliver(reply_to(issued, qc, "dua formulir", [
        ("a.docx", fill(the_form(issued), PLAN)), ("b.docx", fill(the_form(issued), PLAN))]))
    mailenv.deliver(reply_to(issued, qc, "lupa lampiran"))
    summary = mailenv.poll()
    assert summary["outcomes"] == {"form_refused": 3, "manual_entry": 1}
    replies = [text(m) for m in mailenv.received(qc)[1:]]
    assert any(".doc" in r and "docx" in r for r in replies)
    assert any("lebih dari satu formulir" in r for r in replies)
    assert any("tidak menemukan formulir" in r for r in replies)
    assert any("dicatat secara manual" in r for r in replies)
    [manual] = [m for m in mailenv.received("admin") if "dicatat manual" in m["Subject"]]
    assert [p.get_filename() for p in manual.iter_attachments()] == ["PTPP.pdf"]
    assert mailenv.show(NUMBER)["status"] == "issued"


def test_triage_assignment_sends_the_form(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("04-layanan.eml"))
    mailenv.poll()
    assert mailenv.show(NUMBER)["status"] == "triage"
    result = mailenv.run("ptpp", "assign", NUMBER, "Gudang", "--by", "rina")
    assert result.exit_code == 0, result.output
    shown = mailenv.show(NUMBER)
    assert (shown["status"], shown["department"]) == ("issued", "gudang")
    [assigned] = [e for e in shown["events"] if e["kind"] == "department_assigned"]
    assert assigned["actor"] == "rina"
    [issued] = mailenv.received("gudang")
    assert the_form(issued)[:2] == b"PK"
    refused = mailenv.run("ptpp", "assign", NUMBER, "laboratorium")
    assert refused.exit_code == 1 and "unknown department" in refused.output


def test_form_saved_by_libreoffice_is_read_back(mailenv: MailEnv):
    issued = register(mailenv)
    filled = fill(the_form(issued), PLAN)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in" / "PTPP.docx"
        src.parent.mkdir()
        src.write_bytes(filled)
        out = Path(tmp) / "out"
        subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp}/profile", "--headless",
                        "--convert-to", "docx:MS Word 2007 XML", "--outdir", str(out),
                        str(src)], check=True, capture_output=True, timeout=180)
        saved = (out / "PTPP.docx").read_bytes()
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "via LibreOffice",
                             [("PTPP.docx", saved)]))
    assert mailenv.poll()["outcomes"] == {"ptpp_planned": 1}
    shown = json.loads(mailenv.run("complaints", "show", NUMBER, "--json").stdout)
    assert shown["status"] == "planned"
    [plan] = mailenv.received("sales")
    assert "Ganti pengendali suhu mesin 3" in text(plan)


def test_customer_returns_the_filled_return_claim_form(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("01-botol-retak.eml"))
    mailenv.poll()
    budi = mailenv.customer("budi.santoso", "mitra-pangan.example.com")
    [_, retur] = mailenv.received(budi)
    form = the_form(retur)
    # Forgot the reason: told what is missing.
    partial = fill(form, {"item_1_name": "Botol PET 600 ml", "item_1_qty_return": "15",
                          "item_1_unit": "pcs"})
    mailenv.deliver(reply_to(retur, budi, "Terlampir formulir.", [("Klaim.docx", partial)]))
    assert mailenv.poll()["outcomes"] == {"form_refused": 1}
    assert "alasan" in text(mailenv.received(budi)[-1]).lower()
    complete = fill(form, {"item_1_name": "Botol PET 600 ml", "item_1_qty_return": "15",
                           "item_1_unit": "pcs", "reason_damaged": "1"})
    mailenv.deliver(reply_to(retur, budi, "Sudah lengkap.", [("Klaim.docx", complete)]))
    assert mailenv.poll()["outcomes"] == {"return_claim": 1}
    assert "Formulir klaim retur diterima" in mailenv.received(budi)[-1]["Subject"]
    [notice] = [m for m in mailenv.received("admin") if "klaim retur diterima" in m["Subject"]]
    assert "Botol PET 600 ml" in text(notice)
    shown = mailenv.show(NUMBER)
    assert "return_claim_received" in [e["kind"] for e in shown["events"]]
    # The PTPP itself did not move: the return claim runs beside it.
    assert shown["status"] == "issued"


def test_templates_check_and_fields(mailenv: MailEnv, tmp_path: Path):
    ok = mailenv.run("templates", "check")
    assert ok.exit_code == 0, ok.output
    assert "ptpp:" in ok.output and "retur:" in ok.output
    fields = json.loads(mailenv.run("templates", "fields", "ptpp", "--json").stdout)
    by_name = {f["name"]: f for f in fields}
    assert by_name["action_1_target"]["type"] == "date"
    assert "plan" in by_name["root_cause"]["required_for"]
    assert by_name["category_6m"]["options"][:2] == ["Manusia", "Mesin"]
    assert all(f["in_template"] for f in fields)
    # A template missing a required field is reported with the field and the file.
    from docfill import edit_part

    broken = edit_part((Path(__file__).parents[2] / "doc_templates" / "ptpp.docx").read_bytes(),
                       "word/document.xml",
                       lambda xml: xml.replace(b'w:val="root_cause"', b'w:val="akar"'))
    (tmp_path / "ptpp-broken.docx").write_bytes(broken)
    mailenv.write_config(extra=f'[documents.ptpp]\ntemplate = "{tmp_path / "ptpp-broken.docx"}"')
    bad = mailenv.run("templates", "check", "ptpp")
    assert bad.exit_code == 1 and "root_cause" in bad.output


def test_a_new_mail_with_the_form_finds_its_ptpp_by_the_number_inside(mailenv: MailEnv):
    issued = register(mailenv)
    # The customer asked to receive the analysis and plan (recorded by marketing admin).
    from mailproc import store

    store.open_database(mailenv.database)
    store.Complaint.update(send_analysis_to_customer=True).execute()
    store.db.close()
    fresh = EmailMessage()
    fresh["From"] = mailenv.addr("qc")
    fresh["To"] = mailenv.inbox
    fresh["Subject"] = "analisis botol retak"  # no number, no In-Reply-To
    fresh["Message-ID"] = make_msgid(domain="contoh.co.id")
    fresh.set_content("Terlampir.")
    fresh.add_attachment(fill(the_form(issued), PLAN), maintype="application",
                         subtype="octet-stream", filename="analisis.docx")
    mailenv.deliver(bytes(fresh))
    assert mailenv.poll()["outcomes"] == {"ptpp_planned": 1}
    budi = mailenv.customer("budi.santoso", "mitra-pangan.example.com")
    [analysis] = [m for m in mailenv.received(budi) if "Analisis" in m["Subject"]]
    assert "Ganti pengendali suhu mesin 3" in text(analysis)
    assert "Yth. Budi Santoso" in text(analysis) and "terlampir" not in text(analysis)


def test_full_lifecycle_two_cycles(mailenv: MailEnv):
    """Not effective (by the CLI) then effective (by section C in a reply), and what each
    person receives along the way."""
    from mailproc.forms import readback

    issued = register(mailenv)
    qc, admin = mailenv.addr("qc"), mailenv.addr("admin")
    budi = mailenv.customer("budi.santoso", "mitra-pangan.example.com")
    # Cycle 1: plan and completion in one form.
    mailenv.deliver(reply_to(issued, qc, "Selesai.", [("PTPP.docx", fill(the_form(issued),
                                                                          DONE))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_implemented": 1}
    refused = mailenv.run("ptpp", "verify", NUMBER, "--not-effective", "--note", "")
    assert refused.exit_code == 1 and "evaluation note is required" in refused.output
    out = mailenv.run("ptpp", "verify", NUMBER, "--not-effective", "--note",
                      "Keluhan serupa terulang pada pengiriman berikutnya", "--by", "rina")
    assert out.exit_code == 0 and "cycle 2 issued" in out.output, out.output
    # The department receives cycle 2: a new PTPP with the next number of the sequence (the
    # form's "No. PTPP baru"), the complaint keeping its first; the form shows the cycle, the
    # PTPP it follows and the previous analysis.
    second_number = TestClock().number(2)
    second = mailenv.received(qc)[-1]
    assert second["Subject"].startswith(f"[{second_number}] ")
    assert "(siklus 2)" in second["Subject"] and "siklus ke-2" in text(second)
    assert f"tindakan pada PTPP {NUMBER} dinilai belum efektif" in " ".join(text(second).split())
    form2 = the_form(second)
    assert readback.read_form(form2).values["cycle"] == "2"
    assert readback.read_form(form2).values["ptpp_number"] == second_number
    linked = mailenv.show(second_number)  # either number finds the complaint
    assert linked["number"] == NUMBER
    assert [(p["cycle"], p["number"]) for p in linked["ptpps"]] == [
        (1, NUMBER), (2, second_number)]
    # The closed cycle's record: its form with section C written in, "No. PTPP baru" too.
    [verified] = [d for d in linked["documents"] if d["origin"] == "verified"]
    assert verified["cycle"] == 1 and verified["filename"].endswith("-terverifikasi.docx")
    archived = (mailenv.root / "archive" / verified["archive"]).read_bytes()
    section_c = readback.read_form(archived).values
    assert section_c["new_ptpp_number"] == second_number
    assert section_c["verification_result"] == "Tidak efektif"
    assert section_c["verification_status"] == "Open"
    assert section_c["verifier"] == "rina"
    assert section_c["root_cause"]  # the department's answers are still there
    import io
    import zipfile

    body = zipfile.ZipFile(io.BytesIO(form2)).read("word/document.xml").decode()
    assert "Pengendali suhu mesin blow molding 3 aus" in body  # the previous root cause
    assert "Keluhan serupa terulang" in body  # the previous verification note
    # Cycle 2: the department answers again on the new form.
    cycle2 = DONE | {"root_cause": "Operator belum dilatih setting suhu baru",
                     "category_6m": "Manusia"}
    mailenv.deliver(reply_to(second, qc, "Siklus 2 selesai.",
                             [("PTPP.docx", fill(form2, cycle2))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_implemented": 1}
    # Marketing administration verifies by replying with section C filled.
    [waiting] = [m for m in mailenv.received(admin) if "menunggu evaluasi" in m["Subject"]][-1:]
    filled = the_form(waiting)
    verdict = fill(filled, {"verification_result": "Efektif", "verification_date": future(0),
                            "verification_note": "Tidak ada keluhan serupa dalam 2 pengiriman",
                            "verifier": "Rina (Adm. Marketing)"})
    mailenv.deliver(reply_to(waiting, admin, "Verifikasi terlampir.", [("PTPP.docx", verdict)]))
    assert mailenv.poll()["outcomes"] == {"ptpp_closed": 1}
    shown = mailenv.show(NUMBER)
    assert shown["status"] == "closed" and shown["closed_at"]
    assert [(p["cycle"], p["verification_result"]) for p in shown["ptpps"]] == [
        (1, "not_effective"), (2, "effective")]
    # The register names the new PTPP beside the complaint's first number.
    from mailproc import store
    from mailproc.config import load_settings

    store.open_database(mailenv.database)
    try:
        [record] = store.reportdata.load_records(load_settings(mailenv.config, {}),
                                                 with_cycles=False)
    finally:
        store.db.close()
    assert record.number == NUMBER and record.new_ptpps == ((2, second_number),)
    # The closing mail to sales & marketing carries the last cycle's verified form.
    closing = [d for d in shown["documents"] if d["origin"] == "verified"]
    assert [d["cycle"] for d in closing] == [1, 2]
    assert shown["ptpps"][1]["verifier"] == "Rina (Adm. Marketing)"
    # The customer: acknowledgement, return-claim form, and the closing notice.
    subjects = [m["Subject"] for m in mailenv.received(budi)]
    assert subjects[-1] == f"[{NUMBER}] Penanganan keluhan Anda telah selesai"
    # Sales & marketing: two analyses (one per cycle) and the closure.
    sales = [m["Subject"] for m in mailenv.received("sales")]
    assert sum("Analisis dan rencana" in s for s in sales) == 2
    assert sales[-1] == f"[{NUMBER}] PTPP ditutup (efektif)"
    # Operations manager: the new-complaint notice and both PTPP forms in copy.
    assert len(mailenv.received("ops")) == 3
    assert any("Verifikasi PTPP dicatat" in m["Subject"] for m in mailenv.received(admin))
    assert mailenv.run("audit", "verify").exit_code == 0


def test_one_number_per_complaint_gives_the_next_cycle_a_suffix(mailenv: MailEnv):
    """`numbering.new_number_per_cycle = false`: cycle 2 is PTPP "<first>-2"; a command and
    the department's reply may name it, and the reply's form must carry it."""
    from mailproc.forms import readback

    mailenv.write_config(extra="[numbering]\nnew_number_per_cycle = false")
    issued = register(mailenv)
    qc = mailenv.addr("qc")
    mailenv.deliver(reply_to(issued, qc, "Selesai.", [("PTPP.docx", fill(the_form(issued),
                                                                          DONE))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_implemented": 1}
    out = mailenv.run("ptpp", "verify", NUMBER, "--not-effective", "--note", "Terulang")
    assert out.exit_code == 0, out.output
    second = mailenv.received(qc)[-1]
    assert second["Subject"].startswith(f"[{NUMBER}-2] ")
    form2 = the_form(second)
    assert readback.read_form(form2).values["ptpp_number"] == f"{NUMBER}-2"
    # Cycle 1's form sent again in reply to cycle 2's mail is refused, naming both numbers.
    mailenv.deliver(reply_to(second, qc, "Ini formulirnya.",
                             [("PTPP.docx", fill(the_form(issued), DONE))]))
    mailenv.poll()
    [problem] = [m for m in mailenv.received(qc) if f"bukan {NUMBER}-2" in text(m)]
    assert problem["Subject"]
    mailenv.deliver(reply_to(second, qc, "Siklus 2 selesai.", [("PTPP.docx", fill(form2, DONE))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_implemented": 1}
    done = mailenv.run("ptpp", "verify", f"{NUMBER}-2", "--effective", "--note", "Tuntas")
    assert done.exit_code == 0, done.output
    shown = mailenv.show(NUMBER)
    assert [(p["number"], p["verification_result"]) for p in shown["ptpps"]] == [
        (NUMBER, "not_effective"), (f"{NUMBER}-2", "effective")]
    assert mailenv.run("audit", "verify").exit_code == 0


def test_reassignment_keeps_both_forms_and_tells_the_first_department(mailenv: MailEnv):
    """Issue #12, records that cannot change: `ptpp assign N qc` then `logistik` writes a
    second file (never over the first, whose sha256 still matches), the first department is
    told its form is withdrawn, and a reply from it with the old form does not move the
    PTPP."""
    import hashlib

    issued = register(mailenv)  # routed to QC, the form sent
    result = mailenv.run("ptpp", "assign", NUMBER, "logistik", "--by", "rina")
    assert result.exit_code == 0, result.output
    shown = mailenv.show(NUMBER)
    assert (shown["status"], shown["department"]) == ("issued", "logistik")
    docs = [d for d in shown["documents"] if d["form"] == "ptpp"]
    assert len(docs) == 2 and len({d["archive"] for d in docs}) == 2
    assert docs[1]["filename"].endswith("-v2.docx")
    archive = mailenv.root / "archive"
    for doc in docs:
        content = (archive / doc["archive"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == doc["sha256"]
    assert (archive / docs[0]["archive"]).read_bytes() == the_form(issued)

    withdrawn = [m for m in mailenv.received("qc") if "ditarik" in m["Subject"]]
    assert len(withdrawn) == 1
    body = text(withdrawn[0])
    assert "Bagian Logistik" in body and docs[0]["filename"] in body
    assert mailenv.addr("ops") in withdrawn[0]["Cc"]
    [to_logistik] = mailenv.received("logistik")
    assert the_form(to_logistik) == (archive / docs[1]["archive"]).read_bytes()
    assert [e["kind"] for e in shown["events"]].count("ptpp_withdrawn") == 1

    # QC answers anyway, with the withdrawn form filled: the PTPP does not move.
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "terlampir",
                             [("PTPP.docx", fill(the_form(issued), PLAN))]))
    late = mailenv.poll()
    assert late["outcomes"] == {"quarantined": 1}  # not QC's PTPP any more: held, with why
    assert mailenv.show(NUMBER)["status"] == "issued"
