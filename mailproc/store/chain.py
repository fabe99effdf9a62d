"""The append-only, hash-chained event log: appending inside a transaction, and checking
the whole chain (`mailproc verify-log`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee as pw

from mailproc.domain.lifecycle import DomainEvent, EventKind
from mailproc.store import fastsql
from mailproc.store.db import GENESIS_HASH, current_chain, is_sqlite
from mailproc.store.models import ChainHead, Complaint, Event, StoreError, aware, utcnow_naive


def event_hash(prev_hash: str, at: datetime, actor: str, source: str, kind: str,
               complaint_number: str, data: str) -> str:
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor, source, kind, complaint_number, data],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_event(*, complaint: Complaint | None, at: datetime, actor: str, source: str,
                 kind: str, data: dict[str, Any] | None = None) -> Event:
    """Append one event to the chain; call inside `transaction()`."""
    cursor = current_chain()
    if cursor is None:
        raise StoreError("append_event needs an open store.transaction()")
    if cursor.head is None:
        def head_query() -> pw.Query:
            query = ChainHead.select(ChainHead.hash).where(ChainHead.id == 1)
            # FOR UPDATE serialises writers of the chain until commit (SQLite's lock does).
            return query if is_sqlite() else query.for_update()

        head = fastsql.execute("chain_head.read", head_query, [1]).fetchone()
        if head is None:
            ChainHead.create(id=1, hash=GENESIS_HASH)
        cursor.head = head[0] if head else GENESIS_HASH
    prev = cursor.head
    kind = str(kind)  # an EventKind member is stored (and hashed) as its plain value
    at_naive = utcnow_naive(at).replace(microsecond=0)
    data_json = json.dumps(data or {}, ensure_ascii=False, sort_keys=True, default=str)
    number = complaint.number if complaint is not None else ""
    digest = event_hash(prev, at_naive, actor, source, kind, number, data_json)
    event = fastsql.create(Event, complaint=complaint, at=at_naive, actor=actor, source=source,
                           kind=kind, data=data_json, prev_hash=prev, hash=digest)
    cursor.head = digest
    cursor.dirty = True
    return event


def record_files(complaint: Complaint | None, files: Iterable[tuple[str, str, int]], *,
                 at: datetime, actor: str, source: str, **data: Any) -> None:
    """A `files_archived` event naming each archived file (path, sha256, size): the chain then
    covers the files too, and `audit verify` checks them (inside `transaction()`)."""
    listed = [{"path": path, "sha256": digest, "size": size} for path, digest, size in files]
    if listed:
        append_event(complaint=complaint, at=at, actor=actor, source=source,
                     kind="files_archived", data={"files": listed, **data})


def chain_head() -> str:
    """The hash of the last event (the genesis hash of an empty log): printed in the digest
    and the recap, so a copy outside the database can later prove the chain before it."""
    head = ChainHead.select(ChainHead.hash).where(ChainHead.id == 1).first()
    return head.hash if head is not None else GENESIS_HASH


@dataclass(frozen=True)
class ChainReport:
    events: int
    problem: str = ""  # '' when the chain is intact; else names the first bad event
    event_id: int | None = None
    anchor_event_id: int | None = None  # the event whose hash is the anchor, when found
    # Events whose personal data a later `customer_erased` event replaced (`rewrite_event`):
    # their content is vouched for by that event, their place in the chain by their hash.
    redacted: int = 0


def archived_files() -> Iterator[tuple[int, str, str, int]]:
    """(event id, path, sha256, size) of every file the chain says was archived, oldest
    first."""
    query = (Event.select(Event.id, Event.data).where(Event.kind == "files_archived")
             .order_by(Event.id))
    for event in query.iterator():
        for f in json.loads(event.data).get("files", []):
            yield event.id, str(f["path"]), str(f["sha256"]), int(f.get("size", -1))


def removed_files() -> dict[str, int]:
    """Archive path → the `records_purged` event (a tombstone) that recorded its removal, the
    latest when several did: such a file is expected to be absent from then on."""
    removed: dict[str, int] = {}
    query = (Event.select(Event.id, Event.data).where(Event.kind == EventKind.RECORDS_PURGED)
             .order_by(Event.id))
    for event in query.iterator():
        for f in json.loads(event.data).get("files", []):
            removed[str(f["path"])] = event.id
    return removed


def rewrite_event(event: Event, *, actor: str, source: str, data: Any) -> str:
    """Replace an event's actor, source and data: only a customer's erasure does this, to
    take their personal data out of the log. The event keeps its stored hash and its link,
    so the chain and any anchor printed earlier still hold; the digest of the new content is
    returned, for the erasure event to record (`redacted_events`) — `verify_chain` accepts
    the new content because that later event of the chain names it."""
    data_json = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    number = (Complaint.select(Complaint.number).where(Complaint.id == event.complaint_id)
              .scalar() if event.complaint_id else "") or ""
    at = aware(event.at)
    assert at is not None
    digest = event_hash(event.prev_hash, at.replace(tzinfo=None), actor, source, event.kind,
                        number, data_json)
    (Event.update(actor=actor, source=source, data=data_json)
     .where(Event.id == event.id).execute())
    return digest


def _redactions() -> dict[int, tuple[int, str]]:
    """Event id → (the `customer_erased` event that rewrote it, the digest of its content
    since then); the latest erasure wins."""
    out: dict[int, tuple[int, str]] = {}
    query = (Event.select(Event.id, Event.data).where(Event.kind == EventKind.CUSTOMER_ERASED)
             .order_by(Event.id))
    for event in query.iterator():
        for item in json.loads(event.data).get("redacted_events", []):
            out[int(item["event"])] = (event.id, str(item["sha256"]))
    return out


def verify_chain(anchor: str = "") -> ChainReport:
    """Walk the event chain from the start: every event must hash to what it says and point at
    the one before it; the chain head must be the last event. Names the first break. An
    event whose personal data a customer's erasure replaced (`rewrite_event`) passes when its
    content hashes to what that later erasure event recorded for it.

    `anchor`: a head hash printed earlier (digest, recap). It must be the hash of an event of
    the intact chain: a chain rewritten before that point, even with every hash recomputed,
    no longer contains it."""
    prev = GENESIS_HASH
    anchor = anchor.strip().lower()
    anchored: int | None = 0 if anchor == GENESIS_HASH else None
    count = redacted = 0
    redactions = _redactions()
    query = (Event.select(Event, Complaint.id, Complaint.number)
             .join(Complaint, pw.JOIN.LEFT_OUTER).order_by(Event.id))
    for event in query.iterator():
        count += 1
        # With the join, event.complaint is the joined row (None-valued when there is none).
        number = (event.complaint.number or "") if event.complaint is not None else ""
        at = aware(event.at)
        assert at is not None
        if event.prev_hash != prev:
            return ChainReport(count, f"event {event.id} ({event.kind}, {at.isoformat()}) does "
                                      "not follow the event before it: an event before it was "
                                      "removed or altered", event.id)
        digest = event_hash(event.prev_hash, at.replace(tzinfo=None), event.actor,
                            event.source, event.kind, number, event.data)
        if digest != event.hash:
            by, vouched = redactions.get(event.id, (0, ""))
            if by <= event.id or digest != vouched:
                return ChainReport(count, f"event {event.id} ({event.kind}, {at.isoformat()}) "
                                          "was altered: its content no longer matches its hash",
                                   event.id)
            redacted += 1
        prev = event.hash
        if anchored is None and anchor and event.hash == anchor:
            anchored = event.id
    head = ChainHead.select().where(ChainHead.id == 1).first()
    if head is not None and head.hash != prev:
        return ChainReport(count, "the last event(s) of the chain were removed: the chain head "
                                  f"does not match event {count and prev[:12]}…")
    if anchor and anchored is None:
        return ChainReport(count, f"the anchor {anchor[:16]}… is not the hash of any event: the "
                                  "chain was rewritten before that point (or the anchor comes "
                                  "from another installation)")
    return ChainReport(count, anchor_event_id=anchored, redacted=redacted)


def record(complaint: Complaint | None, events: Iterable[DomainEvent], *, at: datetime,
           actor: str, source: str) -> None:
    """Append the domain events a lifecycle step returned, in order (inside `transaction()`)."""
    for event in events:
        append_event(complaint=complaint, at=at, actor=actor, source=source,
                     kind=str(event.kind), data=dict(event.data))
