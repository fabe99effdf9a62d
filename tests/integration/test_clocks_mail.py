"""The effectiveness check's clock (issue #13, item 5), through Dovecot: once the department
reports the actions done, marketing administration has sla.verify_working_days to evaluate;
then a reminder to it and an escalation to the operations manager."""

from __future__ import annotations

import json

from conftest import MailEnv
from docfill import fill
from test_ptpp_forms import DONE, NUMBER, register, reply_to, text, the_form


def test_waiting_for_the_effectiveness_check_is_reminded_then_escalated(mailenv: MailEnv):
    issued = register(mailenv)
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Selesai.",
                             [("PTPP.docx", fill(the_form(issued), DONE))]))
    assert mailenv.poll()["outcomes"] == {"ptpp_implemented": 1}
    first = json.loads(mailenv.run("remind", "--json").stdout)
    assert first["marketing"] == []  # five working days to go
    mailenv.clock.advance(9 * 86400)  # Tuesday → Thursday of the next week: 7 working days
    result = json.loads(mailenv.run("remind", "--json").stdout)
    assert result["marketing"] == [NUMBER] and NUMBER in result["escalations"]
    [late] = [m for m in mailenv.received("admin")
              if "Terlambat: evaluasi efektivitas tindakan" in m["Subject"]]
    assert "EFEKTIF: YA/TIDAK" in text(late)
    [escalated] = [m for m in mailenv.received("ops") if "Eskalasi" in m["Subject"]]
    assert "evaluasi efektivitas tindakan" in text(escalated)
