"""The unit of work's save writes only what changed, and a rolled-back save leaves the row
object reading what the database holds, so saving it again writes again."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_readmodels import register, setup

from mailproc import store
from mailproc.store.uow import UnitOfWork, case_of, save_case


def test_a_rolled_back_save_is_written_again_by_the_next_one(tmp_path: Path):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Penawaran iklan SEO murah")  # triage
    row = store.complaint_by_number(number)
    case = case_of(row)
    case.assign("qc", clock.now)
    with pytest.raises(RuntimeError), store.transaction():
        save_case(row, case)
        assert row.status == "assigned"
        raise RuntimeError("gagal")
    # The row object is back to the database's state, and so is the memo of the cycle.
    assert (row.status, row.department) == ("triage", "")
    assert store.complaint_by_number(number).status == "triage"
    with store.transaction():
        save_case(row, case)
    stored = store.complaint_by_number(number)
    assert (stored.status, stored.department) == ("assigned", "qc")
    assert store.Ptpp.get(store.Ptpp.complaint == stored).department == "qc"


def test_an_unchanged_case_writes_nothing(tmp_path: Path, monkeypatch):
    app, clock = setup(tmp_path)
    number = register(app, clock.now, "Penawaran iklan SEO murah")
    statements: list[str] = []
    database = store.Complaint._meta.database.obj  # the proxy's database
    real = database.execute_sql

    def spy(sql, *args, **kwargs):
        statements.append(sql.split(" ", 1)[0])
        return real(sql, *args, **kwargs)

    with UnitOfWork() as uow:
        row, case = uow.load(number)
        monkeypatch.setattr(database, "execute_sql", spy)
        save_case(row, case)
        case.set_send_analysis(True)
        save_case(row, case)  # the complaint changed, its cycle did not
    assert statements == ["UPDATE"]
