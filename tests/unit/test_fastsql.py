"""store.fastsql's lookups (statements built once) answer exactly what peewee's query builder
answers for the same conditions, on the real schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import peewee as pw
import pytest

from mailproc import store
from mailproc.store import fastsql
from mailproc.store.models import Attachment, Complaint, Customer, Message, OutgoingMail

T0 = datetime(2026, 3, 2, 8, 0)


@pytest.fixture
def database(tmp_path: Path):
    store.open_database(f"sqlite:///{tmp_path / 'mailproc.sqlite3'}")
    store.init_schema()
    with store.transaction():
        for n in range(4):
            fastsql.create(Customer, email=f"c{n}@example.com", name="" if n % 2 else f"C {n}",
                           created_at=T0 + timedelta(days=n))
        complaint = fastsql.create(
            Complaint, number="001/PTPP/MKT/III/2026", seq=1, year=2026,
            received_at=T0, customer=1, subject="Barang rusak", status="open",
            created_at=T0, updated_at=T0)
        for n, (ctype, inline, status) in enumerate([
                ("image/png", False, "stored"), ("application/pdf", False, "stored"),
                ("image/jpeg", True, "stored"), ("image/gif", False, "quarantined")]):
            fastsql.create(Attachment, complaint=complaint, filename=f"f{n}", content_type=ctype,
                           inline=inline, status=status, size=10 + n, sha256="",
                           archive_path=f"a/{n}", created_at=T0)
        fastsql.create(Message, key="k1", message_id="<k1@x>", direction="in", kind="complaint",
                       complaint=complaint, from_addr="c0@example.com", subject="s",
                       processed_at=T0)
        fastsql.create(Message, key="k2", message_id="<k2@x>", direction="in", kind="ignored",
                       complaint=None, from_addr="c1@example.com", subject="s",
                       processed_at=T0 + timedelta(hours=1))
        for n in range(3):
            fastsql.create(OutgoingMail, message_id=f"<o{n}@x>", kind="ack",
                           to_addrs="[]", cc_addrs="[]", subject="s", body_text="b",
                           status="queued", next_attempt_at=T0,
                           created_at=T0 + timedelta(hours=n), auto_reply_to="c0@example.com")
    yield
    store.db.close()


def same(a: pw.Model | None, b: pw.Model | None) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        assert type(a) is type(b)
        assert a.__data__ == b.__data__
        assert not b._dirty  # as peewee leaves a row it read


@pytest.mark.usefixtures("database")
def test_first_matches_peewee():
    same(Message.select().where(Message.key == "k2").first(), fastsql.first(Message, key="k2"))
    same(None, fastsql.first(Message, key="nope"))
    # None compares as IS NULL, a foreign key by its id, a datetime converted back.
    same(Message.select().where(Message.complaint.is_null()).first(),
         fastsql.first(Message, complaint=None))
    got = fastsql.first(Message, key="k1")
    assert got.complaint_id == 1 and got.processed_at == T0
    same(Customer.select().where(Customer.created_at >= T0 + timedelta(days=1))
         .order_by(Customer.id.desc()).first(),
         fastsql.first(Customer, order_by="-id", created_at__ge=T0 + timedelta(days=1)))
    columns = ("id", "number", "status")
    same(Complaint.select(Complaint.id, Complaint.number, Complaint.status)
         .where(Complaint.id == 1).first(),
         fastsql.first(Complaint, columns=columns, id=1))


@pytest.mark.usefixtures("database")
def test_select_count_exists_match_peewee():
    expected = list(Attachment.select().where(Attachment.complaint == 1,
                                              Attachment.status == "stored")
                    .order_by(Attachment.id))
    got = fastsql.select(Attachment, order_by="id", complaint=1, status="stored")
    assert [a.__data__ for a in got] == [a.__data__ for a in expected] and len(got) == 3
    assert fastsql.count(Attachment, complaint=1, inline=False) == (
        Attachment.select().where(Attachment.complaint == 1,
                                  Attachment.inline == False).count()) == 3  # noqa: E712
    since = T0 + timedelta(minutes=30)
    assert fastsql.count(OutgoingMail, auto_reply_to="c0@example.com", created_at__ge=since) == 2
    assert fastsql.count(OutgoingMail, auto_reply_to="c0@example.com", created_at__gt=since,
                         kind__ne="ack") == 0
    assert fastsql.exists(Message, key="k1") and not fastsql.exists(Message, key="k3")


@pytest.mark.usefixtures("database")
def test_the_sequence_and_the_photos_through_the_store():
    with store.transaction():
        assert [store.next_sequence(2027) for _ in range(3)] == [1, 2, 3]
    assert store.peek_sequence(2027) == 4 and store.peek_sequence(2028) == 1
    photos = store.queries.photos(Complaint.get_by_id(1), limit=5)
    assert [p.filename for p in photos] == ["f0", "f2"]  # stored images, oldest first
    assert [p.filename for p in store.queries.photos(Complaint.get_by_id(1), limit=1)] == ["f0"]
