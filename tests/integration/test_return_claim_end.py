"""The return claim to its end (issue #13, item 6), through Dovecot: the customer's claim form
arrives; marketing administration records the inspection, the decision and the settlement by
replying to the notice; the customer is told the decision and the settlement; the register
shows how the claim ended. The batch is printed in the form's goods table."""

from __future__ import annotations

import csv
import io

from conftest import MailEnv
from docfill import fill
from docx import Document
from test_decisions_by_mail import admin_reply, notice
from test_ptpp_forms import NUMBER, reply_to, text, the_form


def _claim(mailenv: MailEnv) -> str:
    mailenv.deliver(mailenv.sample("01-botol-retak.eml"))
    mailenv.poll()
    budi = mailenv.customer("budi.santoso", "mitra-pangan.example.com")
    [_, retur] = mailenv.received(budi)
    form = the_form(retur)
    goods = [" | ".join(c.text.strip() for c in row.cells)
             for t in Document(io.BytesIO(form)).tables for row in t.rows]
    assert any("LOT-2611-07" in row and "PET 600 ml" in row for row in goods), goods
    complete = fill(form, {"claim_number": "KR-7", "item_1_name": "Botol PET 600 ml",
                           "item_1_qty_return": "15", "item_1_unit": "pcs",
                           "reason_damaged": "1"})
    mailenv.deliver(reply_to(retur, budi, "Sudah lengkap.", [("Klaim.docx", complete)]))
    assert mailenv.poll()["outcomes"] == {"return_claim": 1}
    return budi


def _retur_cell(mailenv: MailEnv) -> str:
    """The register's Retur column of the complaint, from `register export --format csv`."""
    out = mailenv.root / "register.csv"
    result = mailenv.run("register", "export", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    column = rows[0].index("Retur (Y/T, no. klaim)")
    [row] = [r for r in rows[1:] if r[1] == NUMBER]
    return row[column]


def test_inspected_approved_and_settled_by_reply(mailenv: MailEnv):
    budi = _claim(mailenv)
    claim_notice = notice(mailenv, "klaim retur diterima")
    assert "PEMERIKSAAN:" in text(claim_notice) and "PENYELESAIAN:" in text(claim_notice)
    # Out of order: no decision before the inspection.
    mailenv.deliver(admin_reply(mailenv, claim_notice, ["KLAIM: DISETUJUI"], "plain"))
    assert mailenv.poll()["outcomes"] == {"decision_refused": 1}
    assert "hasil pemeriksaan barang belum dicatat" in text(
        notice(mailenv, "belum dapat dijalankan"))
    mailenv.deliver(admin_reply(mailenv, claim_notice, [
        "PEMERIKSAAN: 15 botol retak di leher, cacat produksi", "KLAIM: DISETUJUI"], "plain"))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    decided = mailenv.received(budi)[-1]
    assert "Keputusan klaim retur Anda: disetujui" in decided["Subject"]
    assert "15 botol retak di leher" in text(decided) and "klaim KR-7" in text(decided)
    mailenv.deliver(admin_reply(mailenv, claim_notice,
                                ["PENYELESAIAN: Nota kredit NK-2612-004"], "plain"))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    settled = mailenv.received(budi)[-1]
    assert "Penyelesaian klaim retur Anda: Nota kredit" in settled["Subject"]
    assert "NK-2612-004" in text(settled)
    shown = mailenv.show(NUMBER)
    kinds = [e["kind"] for e in shown["events"]]
    assert [k for k in kinds if k.startswith("return_")] == [
        "return_form_sent", "return_claim_received", "return_inspected", "return_decided",
        "return_settled"]
    assert _retur_cell(mailenv) == "Y, KR-7, disetujui: Nota kredit NK-2612-004"


def test_rejected_by_command_with_the_reason(mailenv: MailEnv):
    budi = _claim(mailenv)
    no_reason = mailenv.run("retur", "reject", NUMBER, "--reason", " ")
    assert no_reason.exit_code != 0
    assert mailenv.run("retur", "inspect", NUMBER, "Retak karena benturan").exit_code == 0
    bare = mailenv.run("retur", "reject", NUMBER, "--reason", "")
    assert bare.exit_code != 0 and "needs the reason" in bare.output
    done = mailenv.run("retur", "reject", NUMBER, "--reason",
                       "pecah saat bongkar muat di gudang pelanggan", "--by", "rina")
    assert done.exit_code == 0, done.output
    told = mailenv.received(budi)[-1]
    assert "tidak dapat kami setujui" in told["Subject"]
    assert "pecah saat bongkar muat" in text(told) and "balas email ini" in text(told)
    settle = mailenv.run("retur", "settle", NUMBER, "refund", "--reference", "RF-1")
    assert settle.exit_code != 0 and "only an approved claim" in settle.output
    assert _retur_cell(mailenv) == "Y, KR-7, ditolak (pecah saat bongkar muat di gudang pelanggan)"
