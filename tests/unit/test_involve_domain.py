"""Involving another department (procedure step 6) in the aggregate: only while the form is
out, never the responsible department (issue #13, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailproc.domain.lifecycle import Case, EventKind, LifecycleError

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_only_while_the_form_is_out_and_not_the_responsible_one():
    case, _ = Case.register("001", None, AT, {})
    with pytest.raises(LifecycleError, match="once the PTPP form is out"):
        case.involve("produksi", AT)  # in triage: no form yet
    case.assign("qc", AT)
    case.issue(AT, AT)
    with pytest.raises(LifecycleError, match="responsible department already"):
        case.involve("qc", AT)
    [event] = case.involve("produksi", AT, "cek mesin 3")
    assert event.kind == EventKind.DEPARTMENT_INVOLVED
    assert event.data == {"department": "produksi", "cycle": 1, "responsible": "qc",
                          "note": "cek mesin 3"}
    assert (case.status, case.department) == ("issued", "qc")  # nothing else moved
