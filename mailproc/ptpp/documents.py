"""A complaint's documents: a rendered or received form written to the archive (staged until
the transaction commits) and recorded as a `Document` row. Shared by the use cases
(`workflow`) and the handlers that attach documents to mail (`handlers`); renders nothing."""

from __future__ import annotations

from datetime import datetime

from mailproc import store
from mailproc.bootstrap import App
from mailproc.store import Complaint, queries


def store_document(app: App, complaint: Complaint, form: str, cycle: int, origin: str,
                   filename: str, content: bytes, now: datetime,
                   message: store.Message | None = None, rel: str = "") -> store.Document:
    """Archive `content` in the complaint's folder (unless `rel` says where it already is) and
    record it; call inside the transaction of the step the document belongs to."""
    if not rel:
        when = store.aware(complaint.received_at).astimezone(app.settings.timezone)
        rel = app.archive.store_document(when, app.settings.numbering.slug(complaint.number),
                                         filename, content)
    return queries.add_document(complaint=complaint, form=form, cycle=cycle, origin=origin,
                                filename=filename, archive_path=rel, content=content,
                                message=message, now=now)


def display(name: str | None, email: str | None) -> str:
    """A customer as forms and mail show them: "Name <address>", or what is known."""
    return f"{name} <{email}>" if name and email else (email or name or "")


def customer_name(complaint: Complaint) -> str:
    """The complaint's customer as `display` shows them, '' when unknown."""
    c = complaint.customer
    return "" if c is None else display(c.name, c.email)
