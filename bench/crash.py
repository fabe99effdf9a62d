"""The crash harness of issue #12 with a large count: `mailproc poll` SIGKILLed at seeded
random moments (while complaints come in and while departments' filled forms are read) until
everything is done, then the checks of tests/integration/test_crash.py.

    python bench/crash.py                 # 200 kills while complaints come in, 100 more
                                          # while the forms are read; 400 complaints
    python bench/crash.py --kills 50 --mails 100 --seed 7

A script, not a timed test: it runs that test through pytest (which starts Dovecot and the SMTP
relay, and stops them) with the counts in MAILPROC_CRASH_* and prints what it survived.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--mails", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    env = dict(os.environ, MAILPROC_CRASH_KILLS=str(args.kills),
               MAILPROC_CRASH_MAILS=str(args.mails), MAILPROC_CRASH_SEED=str(args.seed))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "tests/integration/test_crash.py"], cwd=REPO, env=env)
    minutes = (time.monotonic() - started) / 60
    verdict = "survived" if result.returncode == 0 else "FAILED"
    print(f"crash harness: {args.kills} kills while {args.mails} complaints came in and "
          f"{max(2, args.kills // 2)} while their forms were read (seed {args.seed}): "
          f"{verdict} in {minutes:.1f} min")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
