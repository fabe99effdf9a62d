"""The queue of outgoing mail: queueing a mail and flushing the queue through a transport
(`mailproc.outgoing.transports`: SMTP, or a local Maildir for the embedded default). The rows
themselves live in `mailproc.store.outbox`.

`queue_mail` is called inside the transaction of the state change that causes the mail (by the
use cases, or by the handlers of `mailproc.ptpp.handlers` the unit of work calls), so a mail
exists exactly when its change committed. `flush` sends after commit: each row is claimed
(queued → sending, committed together with the previous row's mark) before the SMTP
conversation and marked sent after, so two flushers never send the same row. Flushers on
several machines run side by side (each claims the next row `FOR UPDATE SKIP LOCKED` on
PostgreSQL and holds the outbox lock shared). A crash between the claim and the 'sent' mark
leaves the row in 'sending'; a flush that finds the outbox lock free of every other holder,
so no live flusher has a claimed row, settles it (`reconcile`): looked up in the Sent
folder the server files accepted mail in (found: sent; not found: queued again), or, with no
Sent folder, flagged once and never re-sent on a guess (a duplicate to a customer is worse
than a delay): `outbox list` shows why, `mailproc outbox retry ID` re-queues it after a person
checked the recipient's mailbox.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mailproc import store
from mailproc.archive import Archive
from mailproc.config import Settings
from mailproc.errors import SendError
from mailproc.outgoing import message
from mailproc.outgoing.message import MailToSend, ascii_domain, needs_smtputf8, new_message_id
from mailproc.outgoing.texts import MailTexts, shorten
from mailproc.outgoing.transports import MailRefused, Transport
from mailproc.store import OutgoingMail
from mailproc.store import outbox as outbox_rows

log = logging.getLogger(__name__)


def queue_mail(*, settings: Settings, now: datetime, kind: str, to: Sequence[str],
               subject: str, body: str, cc: Sequence[str] = (), complaint: store.Complaint | None,
               in_reply_to: str = "", references: Sequence[str] = (),
               attachments: Sequence[str] = (), actor: str = "mailproc",
               source: str = "", auto_reply_to: str = "", html: str = "") -> OutgoingMail:
    """Queue one mail and record it as an outgoing Message and an event (inside a
    transaction). `auto_reply_to` marks an automatic answer to that address (loop guard)."""
    domain = settings.company.sender_address.rpartition("@")[2]
    message_id = new_message_id(domain)
    to_list = sorted({a.lower() for a in to if a})
    cc_list = sorted({a.lower() for a in cc if a} - set(to_list))
    if not to_list:
        raise SendError(f"no recipient for the {kind} mail")
    return outbox_rows.queue(
        message_id=message_id, kind=str(kind), complaint=complaint, to=to_list, cc=cc_list,
        sender=settings.company.sender_address, subject=subject, body=body, html=html,
        in_reply_to=in_reply_to, references=references, attachments=attachments,
        auto_reply_to=auto_reply_to, now=now, actor=actor, source=source or "outbox")


def recipients_of(row: OutgoingMail) -> tuple[list[str], list[str]]:
    """(To, Cc) of a row as they go on the wire (IDNA domains)."""
    return ([ascii_domain(a) for a in json.loads(row.to_addrs)],
            [ascii_domain(a) for a in json.loads(row.cc_addrs)])


@dataclass
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


def backoff(attempts: int, base: int, maximum: int) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base … capped at maximum."""
    return timedelta(seconds=min(maximum, base * 2 ** max(0, attempts - 1)))


def flush(settings: Settings, archive: Archive, transport: Transport, now: datetime,
          limit: int | None = None, *, texts: MailTexts | None = None,
          sent_lookup: Callable[[list[str]], set[str]] | None = None) -> FlushResult:
    """Send every queued mail that is due. A server that is down defers the rest of the batch
    (same backoff) instead of hammering it once per mail.

    No single mail stops the flush: whatever goes wrong while building or sending one mail (an
    attachment missing from the archive, a header that cannot be encoded, refused recipients,
    a server without the SMTPUTF8 an address needs, an unexpected exception) marks that mail
    failed, or deferred when the refusal is temporary, with the reason in one log line, and the
    flush goes on. A mail to a customer or a department that fails for good is told to
    marketing administration (the send-failure notice), and that notice goes out in the same
    flush; never for mail to marketing administration itself, which would loop."""
    result = FlushResult()
    # Settling rows a dead flusher left 'sending' needs the outbox lock alone: no live
    # flusher then holds a claimed row. When another flusher is at work, the next flush
    # settles them.
    with store.try_exclusive("outbox") as alone:
        if alone:
            reconcile(now, sent_lookup, ack_counts=settings.calendar.auto_ack_counts)
    with store.shared("outbox"):
        run = _Flush(settings, archive, transport, now, texts, result)
        run.all(outbox_rows.due(now, limit), limit)
    if run.server_down:
        log.warning("mail server unavailable, %d mail(s) deferred: %s", result.deferred,
                    run.server_down)
    return result


ORPHANED = ("stopped while it was being sent (mailproc was killed or crashed); whether the "
            "server accepted it is unknown: check the recipient's mailbox, then `mailproc "
            "outbox retry ID` to send it again, or set mailbox.sent_folder so this is "
            "checked automatically")


# Message-IDs the SMTP server accepted while the database could not record it (PostgreSQL
# restarting, SQLite busy past its timeout): this process knows they went out, and the next
# flush of this process marks them sent instead of asking the Sent folder or a person.
ACCEPTED_UNRECORDED: set[str] = set()


def reconcile(now: datetime, sent_lookup: Callable[[list[str]], set[str]] | None, *,
              ack_counts: bool = True) -> None:
    """Rows left 'sending' by a flusher that died or lost its database (call holding the
    outbox lock). Those this process saw accepted are marked sent. Otherwise, with the Sent
    folder the server files accepted mail in: found there, the mail was sent (marked so); not
    there, the server never accepted it (queued again). Without one: flagged for a person,
    never sent twice on a guess."""
    rows = outbox_rows.sending()
    known = [row for row in rows if row.message_id in ACCEPTED_UNRECORDED]
    for row in known:
        with store.transaction():
            outbox_rows.mark_sent(row, now, reconciled=True, ack_counts=ack_counts,
                                  why="accepted by the server while the database was away")
        ACCEPTED_UNRECORDED.discard(row.message_id)
        log.info("outgoing mail %s (%s): accepted by the server while the database was "
                 "unavailable, now marked sent", row.id, row.kind)
    rows = [row for row in rows if row.message_id not in {r.message_id for r in known}]
    if not rows:
        return
    if sent_lookup is None:
        for row in rows:
            if row.last_error != ORPHANED:
                with store.transaction():
                    outbox_rows.flag_orphaned(row, ORPHANED, now)
                log.error("outgoing mail %s (%s) to %s: %s", row.id, row.kind, row.to_addrs,
                          ORPHANED)
        return
    try:
        found = sent_lookup([row.message_id for row in rows])
    except Exception as exc:  # noqa: BLE001 - the next flush asks again
        log.warning("cannot look up %d mail(s) left 'sending' in the Sent folder (asked "
                    "again next time): %s", len(rows), exc)
        return
    for row in rows:
        with store.transaction():
            if row.message_id in found:
                outbox_rows.mark_sent(row, now, reconciled=True, ack_counts=ack_counts)
            else:
                outbox_rows.requeue_orphaned(row, now)
        log.warning("outgoing mail %s (%s) left 'sending' by a crash: %s", row.id, row.kind,
                    "found in the Sent folder, marked sent" if row.message_id in found
                    else "not in the Sent folder, queued again")


# The mails whose Word attachments go with a PDF copy: what sales & marketing (and marketing
# administration, for a rated closure report) read (documents.pdf_copies).
PDF_KINDS = frozenset({"closure_report", "notice_plan", "notice_satisfaction"})
_pdf_unavailable_told = False


class _Flush:
    """One flush: the claim → build → send → mark of each row."""

    def __init__(self, settings: Settings, archive: Archive, transport: Transport,
                 now: datetime, texts: MailTexts | None, result: FlushResult) -> None:
        self.settings, self.archive, self.transport = settings, archive, transport
        self.now, self._texts, self.result = now, texts, result
        self.server_down: str | None = None
        # PDF copies made in this flush, recorded in the chain with the mail's 'sent' mark.
        self.copies: list[tuple[str, str, int]] = []

    def all(self, ahead: Sequence[OutgoingMail], limit: int | None = None) -> None:
        """Claim, send and mark due rows, oldest first, until none is left (or `limit`).
        `ahead`: the due rows read in one query, so a claimed row is rarely read again. The
        mark of one row and the claim of the next share a transaction (half the commits of
        a transaction each): a flusher has at most one row 'sending' at any moment, the one
        whose SMTP conversation is under way. Rows queued during the flush (send-failure
        notices) are claimed by the same loop."""
        now = self.now
        known = {row.id: row for row in ahead}
        claimed = outbox_rows.claim_next(now, after=0)
        done = 0
        while claimed is not None:
            row_id, attempts = claimed
            row = known.pop(row_id, None)
            if row is None:
                row = outbox_rows.claimed_row(row_id)
            row.attempts = attempts  # another flusher may have tried it since `ahead`
            done += 1
            error = (SendError(self.server_down) if self.server_down is not None
                     else self._send(row))
            try:
                with store.transaction():
                    if error is None:
                        self._mark_sent(row)
                    else:
                        self._mark_failed(row, error)
                    if self.copies:  # PDF copies made for it: in the chain like every file
                        store.record_files(row.complaint if row.complaint_id else None,
                                           self.copies, at=now, actor="mailproc",
                                           source="outbox")
                        self.copies = []
                    # Past this row only: a mail deferred now is not tried twice in a flush.
                    claimed = (outbox_rows.claim_next(now, after=row_id)
                               if limit is None or done < limit else None)
            except Exception:
                if error is None:  # the server has it; the database did not hear of it
                    ACCEPTED_UNRECORDED.add(row.message_id)
                raise

    def _send(self, row: OutgoingMail) -> SendError | None:
        try:
            to, cc = recipients_of(row)
            recipients = to + cc
            sender = ascii_domain(self.settings.company.sender_address)
            utf8 = needs_smtputf8([*recipients, sender])
            mail = MailToSend(
                outgoing_id=row.id, kind=row.kind, to=tuple(json.loads(row.to_addrs)),
                cc=tuple(json.loads(row.cc_addrs)), subject=row.subject,
                body_text=row.body_text, body_html=row.body_html, message_id=row.message_id,
                in_reply_to=row.in_reply_to, references=tuple(row.references.split()),
                attachments=tuple(json.loads(row.attachments)))
            copies = self._pdf_copies(row, list(mail.attachments))
            if copies:
                mail = replace(mail, attachments=(*mail.attachments, *copies))
            msg = message.build_message(mail, self.settings, self.archive, self.now, utf8=utf8)
        except Exception as exc:  # noqa: BLE001 - one bad mail must not stop the flush
            return SendError(f"cannot build the mail: {type(exc).__name__}: {exc}",
                             permanent=True)
        try:
            self.transport.send(msg, recipients, utf8=utf8)
        except MailRefused as exc:
            return exc
        except SendError as exc:
            if not exc.permanent:
                self.server_down = str(exc)
            return exc
        except Exception as exc:  # noqa: BLE001 - a transport bug must not stop the flush
            with contextlib.suppress(Exception):
                self.transport.close()
            return SendError(f"sending failed unexpectedly: {type(exc).__name__}: {exc}",
                             permanent=True)
        return None

    def _pdf_copies(self, row: OutgoingMail, attachments: list[str]) -> list[str]:
        """A PDF beside each Word attachment of a mail people outside the departments read,
        made once with LibreOffice (outside any transaction: this is the flush) and kept in
        the archive next to the Word file; none when LibreOffice is missing or fails (the
        mail goes with the Word file alone, one line in the log)."""
        global _pdf_unavailable_told
        s = self.settings
        words = [rel for rel in attachments if rel.lower().endswith(".docx")]
        if row.kind not in PDF_KINDS or not s.pdf_copies or not words:
            return []
        from mailproc.forms import pdf

        soffice = pdf.find_soffice(s.libreoffice)
        if soffice is None:
            if not _pdf_unavailable_told:
                _pdf_unavailable_told = True
                log.warning("LibreOffice is not installed: documents go as Word files without "
                            "a PDF copy (install libreoffice-writer, or set "
                            "documents.pdf_copies = false)")
            return []
        out = []
        for rel in words:
            copy = rel[:-5] + ".pdf"
            if not self.archive.path(copy).exists():
                try:
                    content = pdf.to_pdf(self.archive.read(rel), soffice)
                    self.archive.store_copy(copy, content)
                except (pdf.PdfError, OSError) as exc:
                    log.warning("no PDF copy of %s for outgoing mail %s: %s", rel, row.id, exc)
                    continue
                self.copies.append((copy, hashlib.sha256(content).hexdigest(), len(content)))
            out.append(copy)
        return out

    def _mark_sent(self, row: OutgoingMail) -> None:
        outbox_rows.mark_sent(row, self.now,
                              ack_counts=self.settings.calendar.auto_ack_counts)
        self.result.sent += 1

    def _mark_failed(self, row: OutgoingMail, error: SendError) -> None:
        now, settings = self.now, self.settings
        attempts = row.attempts + 1
        if error.permanent or attempts >= settings.outbox.max_attempts:
            outbox_rows.mark_failed(row, attempts, str(error), now)
            log.error("outgoing mail %s (%s) failed for good: %s", row.id, row.kind, error)
            self._tell_marketing(row, str(error), attempts)
            self.result.failed += 1
            return
        wait = backoff(attempts, settings.outbox.backoff_seconds,
                       settings.outbox.backoff_max_seconds)
        outbox_rows.defer(row, attempts, str(error), now + wait)
        if self.server_down is None:  # the batch-wide case is logged once at the end
            log.warning("outgoing mail %s (%s) deferred: %s", row.id, row.kind, error)
        self.result.deferred += 1

    def _tell_marketing(self, row: OutgoingMail, reason: str, attempts: int) -> None:
        """The send-failure notice (notice_send_failed), for a mail that never left:
        marketing administration reaches the customer or department another way. A mail the
        server accepted and later returned is a bounce (services.record_bounce, notice_bounce).
        Inside the caller's transaction."""
        settings = self.settings
        recipients = json.loads(row.to_addrs) + json.loads(row.cc_addrs)
        complaint = row.complaint if row.complaint_id else None
        if complaint is None or set(recipients) & set(settings.marketing_admin):
            return  # no complaint to name, or the mail was theirs (a notice would loop)
        try:
            if self._texts is None:
                self._texts = MailTexts(settings.templates_dir)
            text = self._texts.render(
                "notice_send_failed", number=complaint.number,
                company_name=settings.company.name, to=", ".join(recipients),
                subject=row.subject, report=shorten(reason, 1500), ack=row.kind == "ack",
                customer_display=store.customer_display(complaint), attempts=attempts,
                outgoing_id=row.id)
        except Exception as exc:  # noqa: BLE001 - a broken mail text must not stop the flush
            log.error("cannot tell marketing administration about outgoing mail %s: %s",
                      row.id, exc)
            return
        queue_mail(settings=settings, now=self.now, kind="notice_send_failed",
                   to=settings.marketing_admin, subject=text.subject, body=text.body,
                   complaint=complaint, source="outbox")



def stuck_rows(settings: Settings, now: datetime) -> list[OutgoingMail]:
    """Rows left in 'sending' by a crash: the server may or may not have accepted them."""
    return outbox_rows.stuck(now - timedelta(seconds=settings.outbox.stuck_after_seconds))


def requeue(row_id: int, now: datetime, actor: str) -> OutgoingMail:
    return outbox_rows.requeue(row_id, now, actor)
