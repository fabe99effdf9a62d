"""The same models and use cases on PostgreSQL: a private cluster (tests/pgserver.py) for
this module, a fresh database per test."""

from __future__ import annotations

import json
import mailbox as stdlib_mailbox
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pgserver import PostgresServer, start_for_tests
from test_concurrent_numbering import (
    NOW,
    PER_WORKER,
    WORKERS,
    YEAR,
    check_event_chain,
    check_registered,
    complaint_mail,
    fetched,
    init_database,
    make_app,
    run_workers,
    write_config,
)

from mailproc import store
from mailproc.bootstrap import build_app
from mailproc.intake import services
from mailproc.outgoing import outbox, transports


@pytest.fixture(scope="module")
def postgres(request: pytest.FixtureRequest) -> PostgresServer:
    return start_for_tests(request)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database; the models are unbound from it (connection closed) afterwards."""
    url = postgres.create_database()
    try:
        yield url
    finally:
        store.db.close()
        postgres.drop_database(url.rsplit("/", 1)[1])


def test_schema_is_idempotent_and_every_model_works(pg_url: str) -> None:
    database = store.open_database(pg_url)
    assert not store.is_sqlite()
    assert type(database).__name__ == "PostgresqlDatabase"
    assert store.init_schema() == store.SCHEMA_VERSION
    assert store.init_schema() == store.SCHEMA_VERSION  # second run changes nothing
    store.check_schema()
    assert store.SchemaInfo.select().count() == 1
    assert [(h.id, h.hash) for h in store.ChainHead.select()] == [(1, store.GENESIS_HASH)]
    for model in store.MODELS:
        assert database.table_exists(model._meta.table_name), model.__name__

    now = NOW
    naive = store.utcnow_naive(now)
    with store.transaction():
        assert [store.next_sequence(YEAR) for _ in range(3)] == [1, 2, 3]
        assert store.next_sequence(YEAR + 1) == 1
        customer = store.find_or_create_customer("Budi@Example.COM", "Budi", now)
        complaint = store.Complaint.create(
            number="001/PTPP/MKT/III/2026", year=YEAR, seq=1, status="new",
            received_at=naive, customer=customer, return_requested=True,
            created_at=naive, updated_at=naive)
        ptpp = store.Ptpp.create(complaint=complaint, number=complaint.number, created_at=naive)
        message = store.Message.create(
            key="<m1@example.com>", message_id="m1@example.com", direction="in",
            kind="complaint", complaint=complaint, processed_at=naive, sent_at=naive,
            references="a@x b@y")  # a reserved word in PostgreSQL
        store.Attachment.create(message=message, complaint=complaint, filename="foto.png",
                                size=5_000_000_000, inline=False)
        ev1 = store.append_event(complaint=complaint, at=now, actor="t", source="test",
                                 kind="one", data={"x": 1})
        ev2 = store.append_event(complaint=None, at=now, actor="t", source="test", kind="two")
        store.OutgoingMail.create(
            message_id="out1@contoh.co.id", complaint=complaint, kind="ack",
            to_addrs=json.dumps(["budi@example.com"]), subject="s", body_text="b",
            next_attempt_at=naive, created_at=naive, auto_reply_to="budi@example.com")

    # A rolled-back registration gives its number back.
    with pytest.raises(RuntimeError), store.transaction():
        assert store.next_sequence(YEAR) == 4
        raise RuntimeError("roll back")
    with store.transaction():
        assert store.next_sequence(YEAR) == 4

    assert store.find_or_create_customer("budi@example.com", "", now).id == customer.id
    got = store.complaint_by_number("001/PTPP/MKT/III/2026")
    assert got is not None and got.id == complaint.id
    assert got.return_requested is True
    assert isinstance(got.received_at, datetime) and got.received_at == naive
    assert store.aware(got.received_at) == now
    assert got.customer.email == "budi@example.com"
    assert [p.id for p in got.ptpps] == [ptpp.id]
    assert store.Message.get_by_id(message.id).references == "a@x b@y"
    att = store.Attachment.get(store.Attachment.message == message)
    assert att.inline is False and att.size == 5_000_000_000
    assert store.Attachment.select().where(
        store.Attachment.inline == False).count() == 1  # noqa: E712
    assert store.message_exists("<m1@example.com>")
    assert not store.message_exists("<nope@example.com>")
    by_thread = store.complaint_by_message_ids(["nope@x", "m1@example.com", ""])
    assert by_thread is not None and by_thread.id == complaint.id
    # Addresses are stored lower-case; the lookup lower-cases too.
    assert store.count_auto_replies_since("BUDI@example.com", now - timedelta(hours=1)) == 1
    assert store.count_auto_replies_since("budi@example.com", now + timedelta(hours=1)) == 0

    pos = store.get_position("imap://k@host", "INBOX")
    assert (pos.uidvalidity, pos.last_uid) == (0, 0)
    store.save_position("imap://k@host", "INBOX", 4_000_000_000, 17, now)
    pos = store.get_position("imap://k@host", "INBOX")
    assert (pos.uidvalidity, pos.last_uid) == (4_000_000_000, 17)
    assert store.aware(pos.updated_at) == now

    assert ev2.prev_hash == ev1.hash and ev1.prev_hash == store.GENESIS_HASH
    assert check_event_chain() == 2


def test_process_mail_registers_complaints(tmp_path: Path, pg_url: str) -> None:
    config = write_config(tmp_path, pg_url)
    settings = init_database(config)
    app = make_app(config)

    out1 = services.process_mail(app, fetched("1", complaint_mail("c1")), source_key="test")
    out2 = services.process_mail(app, fetched("2", complaint_mail("c2")), source_key="test")
    again = services.process_mail(app, fetched("1", complaint_mail("c1")), source_key="test")
    assert (out1.verdict, out1.number) == ("complaint", f"001/PTPP/MKT/III/{YEAR}")
    assert (out2.verdict, out2.number) == ("complaint", f"002/PTPP/MKT/III/{YEAR}")
    assert again.verdict == "duplicate" and again.number == out1.number

    complaint = store.complaint_by_number(out1.number)
    assert complaint is not None
    assert complaint.customer.email == "pelanggan-c1@mitra.example.com"
    assert complaint.batch == "LOT-c1"
    assert store.aware(complaint.received_at) == NOW
    registered = check_registered(settings, [("complaint", out1.number, ""),
                                             ("complaint", out2.number, "")], total=2)
    assert registered.numbers == [out1.number, out2.number]
    kinds = [e.kind for e in store.Event.select().order_by(store.Event.id)]
    # The PTPP's mail follows its event: the bus queues it from `ptpp_issued`.
    assert kinds == ["files_archived", "mail_received", "complaint_registered", "mail_queued",
                     "files_archived", "ptpp_issued", "mail_queued", "mail_queued"] * 2

    # A reply in the thread of the acknowledgement is a follow-up of the same complaint.
    ack = store.OutgoingMail.get(store.OutgoingMail.complaint == complaint,
                                 store.OutgoingMail.kind == "ack")
    reply = complaint_mail("c1-reply", body="Ini foto tambahannya.").replace(
        b"Message-ID: <complaint-c1-reply@",
        f"In-Reply-To: <{ack.message_id}>\nMessage-ID: <complaint-c1-reply@".encode())
    out3 = services.process_mail(app, fetched("3", reply), source_key="test")
    assert (out3.verdict, out3.number) == ("follow_up", out1.number)

    # The outbox sends into the Maildir and records the first response on PostgreSQL.
    result = outbox.flush(settings, app.archive, transports.make_transport(settings), NOW)
    # 2 × (ack, notice, PTPP form with its .docx attached) + the follow-up notice
    assert (result.sent, result.deferred, result.failed) == (7, 0, 0)
    assert {m.status for m in store.OutgoingMail.select()} == {"sent"}
    assert store.complaint_by_number(out1.number).first_response_at is not None
    assert settings.smtp.path is not None
    assert len(stdlib_mailbox.Maildir(settings.smtp.path, create=False)) == 7
    check_event_chain()


def test_registration_renders_its_forms_before_the_transaction(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The peeked number and the pre-rendered forms are right on PostgreSQL too: nothing is
    rendered inside a registration's transaction (issue #10)."""
    from mailproc.ptpp import documents

    config = write_config(tmp_path, pg_url)
    init_database(config)
    app = make_app(config)
    seen: list[tuple[str, bool]] = []
    real = documents.render

    def spy(template, context, **kwargs):
        seen.append((context["ptpp_number"], store.db.in_transaction()))
        return real(template, context, **kwargs)

    monkeypatch.setattr(documents, "render", spy)
    assert store.peek_sequence(YEAR) == 1
    body = "Botol PET retak dan kemasan penyok, mohon diretur. No. batch: LOT-7."
    out = services.process_mail(app, fetched("1", complaint_mail("r1", body)),
                                source_key="test")
    assert out.verdict == "complaint" and store.peek_sequence(YEAR) == 2
    new = services.NewComplaint(channel="telepon", received_at=NOW,
                                customer_email="pelanggan-r1@mitra.example.com",
                                customer_name="Nama Lain", subject="Botol retak",
                                description="Botol retak, mohon retur.")
    manual = services.register_manual(app, new, actor="rina").number
    assert sorted(seen) == sorted([(out.number, False)] * 2 + [(manual, False)] * 2)
    kinds = [m.kind for m in store.OutgoingMail.select()]
    assert kinds.count("ptpp_issue") == 2 and kinds.count("return_form") == 2


def test_concurrent_registration_numbers_without_gaps(tmp_path: Path, pg_url: str) -> None:
    config = write_config(tmp_path, pg_url)
    settings = init_database(config)

    outcomes = run_workers(config)

    store.open_database(settings.database_url)
    registered = check_registered(settings, outcomes, WORKERS * PER_WORKER)
    assert registered.numbers[-1] == f"{WORKERS * PER_WORKER:03d}/PTPP/MKT/III/{YEAR}"


def test_procedure_and_reports_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The monitoring job, verification with a new cycle, the digest, the recap and the
    register export, on PostgreSQL."""
    import io
    import zipfile
    from zoneinfo import ZoneInfo

    from mailproc.domain import states
    from mailproc.ptpp import reminders, workflow
    from mailproc.reports import jobs as reportjobs

    wib = ZoneInfo("Asia/Jakarta")
    config = write_config(tmp_path, pg_url)
    settings = init_database(config)
    store.open_database(settings.database_url)
    clock = {"now": datetime(2026, 11, 2, 9, 0, tzinfo=wib)}  # Monday
    app = build_app(settings, clock=lambda: clock["now"])
    new = services.NewComplaint(channel="telepon", received_at=clock["now"], customer_email="",
                                customer_name="CV Maju", subject="Botol retak",
                                description="Botol retak di leher, mohon diganti")
    number = services.register_manual(app, new, actor="rina").number
    c = store.complaint_by_number(number)
    assert c.status == states.ISSUED and c.first_response_due_at is not None
    # Overdue on Friday: reminder + escalation + the missing first response, once a day.
    clock["now"] = datetime(2026, 11, 6, 8, 0, tzinfo=wib)
    result = reminders.remind(app)
    assert (result.reminders, result.escalations, result.no_response) == (
        [number], [number], [number])
    assert reminders.remind(app).reminders == []
    # Not effective → cycle 2 issued; then effective → closed with the closure report.
    store.Ptpp.update(plan=json.dumps({"root_cause": "Suhu", "action_1_corrective": "Ganti",
                                       "action_1_pic": "QC", "action_1_target": "2026-11-20"}),
                      root_cause="Suhu").execute()
    store.Complaint.update(status=states.IMPLEMENTED).execute()
    workflow.verify(app, number, effective=False, note="Terulang", actor="rina", source="t")
    assert store.complaint_by_number(number).status == states.ISSUED
    store.Complaint.update(status=states.IMPLEMENTED).execute()
    workflow.verify(app, number, effective=True, note="Tidak terulang", actor="rina",
                    source="t")
    assert store.complaint_by_number(number).status == states.CLOSED
    assert store.OutgoingMail.select().where(
        store.OutgoingMail.kind == "closure_report").count() == 1
    # Reports.
    assert reportjobs.send_digest(app, datetime(2026, 11, 9, 8, 0, tzinfo=wib))
    _, docx, xlsx = reportjobs.build_recap(app, 2026, 11, clock["now"])
    assert zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").count(
        number.encode()) >= 1
    csv = reportjobs.export_register(app, "csv", received_from=None, received_to=None)
    assert number in csv.decode("utf-8-sig")
    assert reportjobs.recap_due(app, datetime(2026, 12, 1, 9, 0, tzinfo=wib)) == (2026, 11)
    assert store.verify_chain().problem == ""
