"""The TLS client context of mailproc's mail connections: IMAP (intake/mailbox.py) and SMTP
(outgoing/transports.py) build theirs here, so both verify certificates the same way.

Owns only the context; connecting, and what an untrusted certificate means to the user, stay
with each caller. The OAuth2 token requests go through requests, which verifies on its own.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def client_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """A verifying client context: the system CAs, or only `ca_file` (a private CA) when it is
    configured. The standard library's defaults apply: certificate and host name checked,
    TLS 1.2 at least. A private CA is a setting, never a switch that turns verification off.
    """
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
