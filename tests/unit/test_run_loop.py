"""`mailproc run` as a real process: polls on schedule, one instance per database, stops
cleanly on SIGTERM. Uses local Maildirs, so no servers are needed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from appfixture import LocalApp


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_run_polls_refuses_a_second_instance_and_stops_on_sigterm(tmp_path: Path):
    app = LocalApp(tmp_path, extra="")
    config = app.config
    config.write_text(config.read_text().replace("poll_minutes = 5", "poll_minutes = 0.02"))
    cmd = [sys.executable, "-m", "mailproc", "--config", str(config), "run"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        app.deliver(b"From: a@example.com\r\nSubject: barang rusak\r\n"
                    b"Message-ID: <run-1@example.com>\r\n\r\nrusak\r\n")

        def registered() -> bool:
            out = app.run("complaints", "list", "--json").stdout
            return len(json.loads(out)) == 1

        assert _wait_for(registered), proc.stderr
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert second.returncode == 4 and "another `mailproc run`" in second.stderr
        # A mail arriving later is picked up by the next scheduled poll.
        app.deliver(b"From: b@example.com\r\nSubject: terlambat\r\n"
                    b"Message-ID: <run-2@example.com>\r\n\r\nbelum sampai\r\n")
        assert _wait_for(lambda: len(json.loads(
            app.run("complaints", "list", "--json").stdout)) == 2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "mailproc stopped" in proc.stderr.read()
