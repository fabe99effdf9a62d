"""Write-lock benchmark: how long one `mailproc poll` holds the database's write lock, against
the poll's own wall time, in one run.

    python bench/writelock.py [--copies 5] [--json]

SQLite has one write lock, held for a whole `store.transaction()`; while one process holds it,
every other writer (a second poller, a CLI command, the scheduler's jobs) waits. Builds a
throwaway installation (the example configuration, SQLite and a local Maildir inbox in a temp
folder), puts `--copies` copies of each sample mail in `examples/inbox/` into the inbox (each
copy with its own Message-ID), and runs one poll in this process with every outermost write
transaction timed. Prints the poll's wall time, the time the lock was held in all (and its
share of the poll: the ratio against the named baseline, the poll itself), and per
registration of a complaint mail the time the lock was held for it (mean, longest). Since
issue #11 a poll records a batch (`mailbox.fetch_batch` mails) in one transaction, so a
registration's time is its share of its batch's transaction, and the longest transaction is
the longest another writer can wait.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mailbox
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from appfixture import LocalApp  # noqa: E402

import mailproc.intake.services as services  # noqa: E402
import mailproc.store.outbox as store_outbox  # noqa: E402
import mailproc.store.uow as uow  # noqa: E402
from mailproc import store  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=5, help="copies of each sample mail")
    parser.add_argument("--json", action="store_true", help="the figures as one JSON object")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mailproc-writelock-"))
    app = LocalApp(root)
    box = mailbox.Maildir(str(root / "var" / "inbox"), create=True)
    samples = sorted((REPO / "examples" / "inbox").glob("*.eml"))
    for i in range(args.copies):
        for path in samples:
            box.add(path.read_bytes().replace(b"Message-ID: <", f"Message-ID: <c{i}-".encode(),
                                              1))

    held: list[float] = []
    depth = 0
    real = store.transaction

    @contextlib.contextmanager
    def timed() -> Iterator[None]:
        nonlocal depth
        depth += 1
        start = time.perf_counter()
        try:
            with real():
                yield
        finally:
            depth -= 1
            if depth == 0:
                held.append(time.perf_counter() - start)

    # Every name under which mailproc opens the write transaction.
    store.transaction = timed  # type: ignore[assignment]
    store_outbox.transaction = timed  # type: ignore[assignment]
    uow.transaction = timed  # type: ignore[assignment]
    registrations: list[float] = []
    register = services.register_from_mail

    def timed_register(*a, **k):  # type: ignore[no-untyped-def]
        # Inside the batch's transaction (group commit): the lock time this registration adds.
        start = time.perf_counter()
        outcome = register(*a, **k)
        registrations.append(time.perf_counter() - start)
        return outcome

    services.register_from_mail = timed_register  # type: ignore[assignment]

    start = time.perf_counter()
    summary = app.poll()
    wall = time.perf_counter() - start
    if len(summary["registered"]) != len(registrations) or not registrations:
        print(f"the poll did not register what it should: {summary}", file=sys.stderr)
        return 1
    figures = {
        "mails": len(samples) * args.copies, "registered": len(registrations),
        "poll_wall_s": round(wall, 3), "transactions": len(held),
        "lock_held_s": round(sum(held), 3), "lock_share_of_poll": round(sum(held) / wall, 3),
        "longest_transaction_ms": round(max(held) * 1000, 1),
        "per_registration_ms": {"mean": round(statistics.mean(registrations) * 1000, 1),
                                "longest": round(max(registrations) * 1000, 1)},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{figures['mails']} mails, {figures['registered']} registered; poll "
              f"{wall:.2f} s wall; write lock held {sum(held):.2f} s in "
              f"{len(held)} transactions = {figures['lock_share_of_poll']:.0%} of the poll "
              f"(longest {figures['longest_transaction_ms']} ms); "
              f"per registration {figures['per_registration_ms']['mean']} ms on average, "
              f"{figures['per_registration_ms']['longest']} ms at most")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
