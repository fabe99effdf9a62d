"""Repeat complaints at intake (issue #13, item 8): the same customer — the same address, or
the same company domain — about the same product or the same batch within
`routing.repeat_window_days` of an earlier complaint. ISO 10002 asks that recurring problems
be seen; marketing administration sees the link in the notice and on the PTPP form.

Pure: the caller passes the earlier complaints it found and the window."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# Mail providers whose domain says nothing about the company behind an address.
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.id", "ymail.com", "rocketmail.com",
    "hotmail.com", "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "aol.com",
    "proton.me", "protonmail.com", "mail.com", "gmx.com", "zoho.com", "yandex.com",
})


@dataclass(frozen=True)
class Facts:
    """What a complaint is compared by."""

    number: str
    received_at: datetime  # aware
    email: str  # the customer's address, '' when unknown
    product: str
    batch: str


def company_domain(email: str) -> str:
    """The domain that stands for the customer's company, '' for a free-mail address."""
    domain = email.rpartition("@")[2].strip().lower()
    return "" if not domain or domain in FREE_MAIL else domain


def _key(value: str) -> str:
    """'Botol PET 600 ml' and 'botol pet 600ml' are one product; 'LOT-2611-07' and
    'lot 2611 07' one batch."""
    return re.sub(r"[^0-9a-z]+", "", value.lower())


def same_customer(a: str, b: str) -> bool:
    if not a or not b:
        return False
    a, b = a.lower(), b.lower()
    return a == b or (company_domain(a) != "" and company_domain(a) == company_domain(b))


def repeat_of(new: Facts, earlier: Iterable[Facts], window_days: int) -> Facts | None:
    """The most recent earlier complaint `new` repeats, or None. Same customer, and the same
    batch, or the same product, both known; received within `window_days` before `new`."""
    if window_days <= 0 or not new.email or not (new.product or new.batch):
        return None
    since = new.received_at - timedelta(days=window_days)
    product, batch = _key(new.product), _key(new.batch)
    found = [e for e in earlier
             if e.number != new.number and since <= e.received_at <= new.received_at
             and same_customer(new.email, e.email)
             and ((batch and _key(e.batch) == batch) or (product and _key(e.product) == product))]
    return max(found, key=lambda e: e.received_at) if found else None
