"""Serving the web page: the session's signing key, and waitress on `web.listen`."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from mailproc.errors import ConfigError

if TYPE_CHECKING:
    from flask import Flask
    from waitress.server import BaseWSGIServer

    from mailproc.bootstrap import App
    from mailproc.config import Settings

log = logging.getLogger(__name__)

KEY_FILE = "web-secret-key"


def secret_key(settings: Settings) -> str:
    """`web.secret_key` / MAILPROC_WEB_SECRET_KEY, else the key in the state folder, made
    there (readable by this user only) the first time: sessions survive a restart."""
    if settings.web.secret_key:
        if len(settings.web.secret_key) < 32:
            raise ConfigError(f"{settings.source('web.secret_key')}: use at least 32 random "
                              "characters, e.g. from `python -c 'import secrets; "
                              "print(secrets.token_urlsafe(48))'`")
        return settings.web.secret_key
    path = Path(settings.state_dir) / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another server made it just now
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    log.info("web: made the session key %s", path)
    return key


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--listen: use HOST:PORT, e.g. 127.0.0.1:8025, got {listen!r}")
    return host.strip("[]"), int(port)


def build(app: App) -> Flask:
    from mailproc.web.app import create_app

    return create_app(app, secret_key=secret_key(app.settings))


def make_server(web: Flask, listen: str, *, threads: int = 4) -> BaseWSGIServer:
    """A waitress server bound to `listen` (port 0: a free one); `.run()` serves,
    `.close()` stops."""
    from waitress import create_server

    host, port = split_listen(listen)
    return create_server(web, host=host, port=port, threads=threads, ident="mailproc")
