"""Logging to stderr as text lines or JSON lines (`[logging] format`, `MAILPROC_LOG_FORMAT`).

Under systemd stderr goes to the journal; a log collector (Loki, Vector, Fluent Bit …) reads
JSON lines without a parsing rule. One JSON object per line: `time` (UTC, ISO 8601), `level`,
`logger`, `message`, the `extra={…}` fields of the call, and `exception` with the traceback.
Passwords in URLs and fields named like a secret are masked in both formats.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"

# The attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|credential|api_?key", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask the password of any `scheme://user:password@host` in `text`."""
    return _URL_PASSWORD.sub(rf"\1{MASK}@", text)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_") or key in data:
                continue
            data[key] = MASK if _SECRET_KEY.search(key) else _plain(value)
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            data["exception"] = redact(record.exc_text)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple | dict):
        try:
            return json.loads(redact(json.dumps(value, ensure_ascii=False, default=str)))
        except ValueError:
            pass
    return redact(str(value))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (it is replaced under test runners)."""

    mailproc = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use 'text' or 'json'")
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(fmt: str, level: int | str) -> None:
    """Set the root level and the format of mailproc's stderr handler. Like
    logging.basicConfig, the handler is added only when the root logger has none (a host
    such as a test runner keeps its own); calling again switches the format in place."""
    root = logging.getLogger()
    root.setLevel(level)
    if not root.handlers:
        root.addHandler(_StderrHandler())
    chosen = formatter(fmt)
    for handler in root.handlers:
        if getattr(handler, "mailproc", False):
            handler.setFormatter(chosen)
