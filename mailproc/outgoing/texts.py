"""What people read: mail texts rendered from editable templates in doc_templates/email/.

A template file starts with a `Subject:` line, a blank line, then the body. Templates run in
Jinja's sandbox; customer text only ever enters as a value, so `{{ x }}` written by a customer
is printed as written, never evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from mailproc.errors import ConfigError

_MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
              "September", "Oktober", "November", "Desember")


def format_datetime_id(value: datetime, tz: ZoneInfo) -> str:
    """'25 November 2026 14:05 WIB' in the company's time zone."""
    local = value.astimezone(tz)
    zone = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}.get(
        tz.key, local.strftime("%Z"))
    return f"{local.day} {_MONTHS_ID[local.month - 1]} {local.year} {local:%H:%M} {zone}"


def format_date_id(value: date | datetime | None, tz: ZoneInfo, empty: str = "") -> str:
    """dd/mm/yyyy as on the forms; a datetime is taken in the company's time zone."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = value.astimezone(tz)
    return value.strftime("%d/%m/%Y")


def shorten(text: str, limit: int = 4000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "\n[… dipotong]"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


_MISSING = ("mail template missing; copy it from `mailproc templates export DIR`, or remove "
            "paths.templates to use the texts mailproc ships")


class MailTexts:
    def __init__(self, templates_dir: Path) -> None:
        self.dir = templates_dir / "email"
        # The loader caches compiled templates (compiling costs ~2 ms a render) and still
        # notices an edited file (auto_reload checks the mtime).
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(self.dir, encoding="utf-8"), auto_reload=True,
            autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True,
        )
        self.html_env = SandboxedEnvironment(
            loader=FileSystemLoader(self.dir, encoding="utf-8"), auto_reload=True,
            autoescape=True, undefined=StrictUndefined,
        )

    def render_html(self, name: str, **context: Any) -> str:
        """`<name>.html`, with HTML autoescaping: customer text cannot inject markup."""
        path = self.dir / f"{name}.html"
        try:
            return self.html_env.get_template(f"{name}.html").render(**context)
        except TemplateNotFound:
            raise ConfigError(f"{path}: {_MISSING}") from None
        except TemplateError as exc:
            raise ConfigError(f"{path}: template error: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text; save it again as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None

    def render(self, name: str, **context: Any) -> RenderedMail:
        path = self.dir / f"{name}.txt"
        try:
            text = self.env.get_template(f"{name}.txt").render(**context)
        except TemplateNotFound:
            raise ConfigError(f"{path}: {_MISSING}") from None
        except TemplateError as exc:
            raise ConfigError(f"{path}: template error: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text; save it again as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        head, _, body = text.partition("\n")
        if not head.lower().startswith("subject:"):
            raise ConfigError(f"{path}: the first line must be 'Subject: …'")
        subject = " ".join(head.split(":", 1)[1].split())
        return RenderedMail(subject=subject, body=body.lstrip("\n"))
