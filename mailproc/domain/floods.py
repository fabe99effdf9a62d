"""One sender flooding the complaints mailbox (issue #12), decided from facts (pure).

- **Repeats.** A mail whose text is nearly the same as a complaint the same sender sent within
  `limits.repeat_window_hours` is that complaint again (a resend, a mail loop that slipped past
  the auto-reply headers, an impatient customer): it becomes a follow-up of the first, not a
  new registration with a new PTPP form.
- **Bursts.** Past `limits.new_complaints_per_sender_per_day` new complaints from one sender in
  24 hours, further ones are registered (nothing is lost) but held in triage: no department, no
  form, no automatic mail beyond the capped acknowledgement; marketing administration gets one
  notice when the limit is reached, not one per mail.

"Nearly the same" compares word 3-grams of subject and text (quoted lines dropped, reply and
forward prefixes ignored) by Jaccard similarity, and asks for the same numbers: a greeting more
or a sentence reworded keeps two copies of one complaint together, while another order, batch
or delivery number makes it another complaint however alike the words are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

NEAR_IDENTICAL = 0.7  # Jaccard similarity of word 3-grams (and the same numbers)
BURST_WINDOW = timedelta(days=1)

_WORD = re.compile(r"\w+")
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|tr|balas|terusan)\s*(\[\d+\])?\s*:\s*)+",
                     re.IGNORECASE)


TEXT_LIMIT = 4000  # characters of subject and text compared: a complaint says it early


@dataclass(frozen=True)
class Fingerprint:
    shingles: frozenset[tuple[str, ...]]  # word 3-grams
    numbers: frozenset[str]  # the words with a digit: order, batch, delivery numbers, dates


@lru_cache(maxsize=128)  # a batch of mails and their senders' earlier ones; ~60 KB each at most
def fingerprint(subject: str, text: str) -> Fingerprint:
    """What a mail's subject and text are compared by (quoted lines and reply prefixes left
    out, the first TEXT_LIMIT characters); a text of fewer than three words is its whole word
    sequence. Remembered: a mail is looked at before and inside its transaction, and a
    sender's earlier complaints for each of their new mails."""
    lines = [line for line in text[:TEXT_LIMIT].splitlines()
             if not line.lstrip().startswith(">")]
    words = _WORD.findall(f"{_PREFIX.sub('', subject)}\n{chr(10).join(lines)}".lower())
    numbers = frozenset(w for w in words if any(c.isdigit() for c in w))
    if len(words) < 3:
        return Fingerprint(frozenset({tuple(words)}), numbers)
    return Fingerprint(frozenset(zip(words, words[1:], words[2:], strict=False)), numbers)


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Jaccard similarity of the word 3-grams; 0 when the numbers differ."""
    if not a.shingles or not b.shingles or a.numbers != b.numbers:
        return 0.0
    return len(a.shingles & b.shingles) / len(a.shingles | b.shingles)


@dataclass(frozen=True)
class Earlier:
    """A complaint the sender registered before."""

    number: str
    at: datetime  # when it was received
    fingerprint: Fingerprint


def repeat_of(new: Fingerprint, at: datetime, earlier: Sequence[Earlier],
              window: timedelta) -> str | None:
    """The oldest complaint within `window` before `at` whose text is nearly `new`'s."""
    if window <= timedelta(0):
        return None
    for e in sorted(earlier, key=lambda e: e.at):
        if at - window <= e.at <= at and similarity(new, e.fingerprint) >= NEAR_IDENTICAL:
            return e.number
    return None


def registered_in_burst_window(earlier: Sequence[Earlier], at: datetime) -> int:
    return sum(1 for e in earlier if at - BURST_WINDOW <= e.at <= at)


def held(registered_before: int, limit: int) -> bool:
    """Whether a new complaint from a sender who registered `registered_before` in the last
    24 hours is held in triage (limit 0: never)."""
    return limit > 0 and registered_before >= limit


def tell_marketing(registered_before: int, limit: int) -> bool:
    """The first held complaint of a burst is told to marketing administration; the rest
    are not (one notice, not one per mail)."""
    return limit > 0 and registered_before == limit
