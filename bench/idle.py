"""Arrival → acknowledgement with IMAP IDLE (issue #12, item 4): `mailproc run` with the
interval poll an hour away, mails delivered one after another into Dovecot; for each, the time
until its acknowledgement, which the SMTP relay delivers into the customer's mailbox before it
answers 250, is there. Aim: median < 3 s over 20 mails.

    python bench/idle.py            # 20 mails
    python bench/idle.py --mails 50

Runs tests/integration/test_idle.py::test_latency_from_arrival_to_acknowledgement through
pytest (which starts Dovecot and the relay, and stops them). The baseline is the interval
poll it replaces: on average half of schedule.poll_minutes (2.5 minutes by default).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=20)
    args = parser.parse_args(argv)
    env = dict(os.environ, MAILPROC_IDLE_MAILS=str(args.mails))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/integration/test_idle.py::test_latency_from_arrival_to_acknowledgement"],
        cwd=REPO, env=env, capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("IDLE-BENCH ")]
    if result.returncode != 0 or not lines:
        print(result.stdout[-4000:], result.stderr[-2000:], sep="\n")
        return 1
    figures = json.loads(lines[-1].removeprefix("IDLE-BENCH "))
    baseline = 5 * 60 / 2  # the default interval poll's average wait
    print(f"arrival → acknowledgement over {figures['mails']} mails: median "
          f"{figures['median_s']:.2f} s (min {figures['min_s']:.2f}, max "
          f"{figures['max_s']:.2f}); aim < 3 s: "
          f"{'met' if figures['median_s'] < 3 else 'MISSED'}; "
          f"{figures['median_s'] / baseline:.4f}× the interval poll's average wait "
          f"({baseline:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
