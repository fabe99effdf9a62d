"""What people read: mail texts rendered from editable templates in doc_templates/email/.

A template file starts with a `Subject:` line, a blank line, then the body. Templates run in
Jinja's sandbox; customer text only ever enters as a value, so `{{ x }}` written by a customer
is printed as written, never evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mailproc.errors import ConfigError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

_MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
              "September", "Oktober", "November", "Desember")


# One date style per kind of text (issue #13 item 12):
# - mail people read: a day '25 November 2026' (format_day_id), a moment
#   '25 November 2026 14:05 WIB' (format_datetime_id);
# - forms and reports: a day '25/11/2026' as on the controlled forms (format_date_id), a moment
#   '25/11/2026 14:05 WIB' (format_datetime_doc);
# - the CLI, logs and exports for machines: ISO 8601.


def _zone(tz: ZoneInfo, local: datetime) -> str:
    return {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}.get(
        tz.key, local.strftime("%Z"))


def format_day_id(value: date | datetime | None, tz: ZoneInfo, empty: str = "") -> str:
    """'25 November 2026' (mail); a datetime is taken in the company's time zone."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = value.astimezone(tz)
    return f"{value.day} {_MONTHS_ID[value.month - 1]} {value.year}"


def format_datetime_doc(value: datetime | None, tz: ZoneInfo, empty: str = "") -> str:
    """'25/11/2026 14:05 WIB' (forms and reports) in the company's time zone."""
    if value is None:
        return empty
    local = value.astimezone(tz)
    return f"{local:%d/%m/%Y %H:%M} {_zone(tz, local)}"


def format_datetime_id(value: datetime, tz: ZoneInfo) -> str:
    """'25 November 2026 14:05 WIB' (mail) in the company's time zone."""
    local = value.astimezone(tz)
    return f"{format_day_id(local, tz)} {local:%H:%M} {_zone(tz, local)}"


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

    # The loaders cache compiled templates (compiling costs ~2 ms a render) and still notice an
    # edited file (auto_reload checks the mtime). Built at the first mail: every command builds
    # a MailTexts, and Jinja is heavy to import.
    @cached_property
    def env(self) -> SandboxedEnvironment:
        return _environment(self.dir, autoescape=False, keep_trailing_newline=True)

    @cached_property
    def html_env(self) -> SandboxedEnvironment:
        return _environment(self.dir, autoescape=True)

    def render_html(self, name: str, **context: Any) -> str:
        """`<name>.html`, with HTML autoescaping: customer text cannot inject markup."""
        return _render(self.html_env, self.dir / f"{name}.html", context)

    def render(self, name: str, **context: Any) -> RenderedMail:
        path = self.dir / f"{name}.txt"
        text = _render(self.env, path, context)
        head, _, body = text.partition("\n")
        if not head.lower().startswith("subject:"):
            raise ConfigError(f"{path}: the first line must be 'Subject: …'")
        subject = " ".join(head.split(":", 1)[1].split())
        return RenderedMail(subject=subject, body=body.lstrip("\n"))


def _environment(folder: Path, **options: Any) -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined  # heavy: only when a mail is written
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(loader=FileSystemLoader(folder, encoding="utf-8"),
                                auto_reload=True, undefined=StrictUndefined, **options)


def _render(env: SandboxedEnvironment, path: Path, context: dict[str, Any]) -> str:
    """The template `path` (in env's folder) rendered; a missing or broken one is a
    ConfigError that names the file and what to do."""
    from jinja2 import TemplateError, TemplateNotFound  # loaded already by `env`

    try:
        return env.get_template(path.name).render(**context)
    except TemplateNotFound:
        raise ConfigError(f"{path}: {_MISSING}") from None
    except TemplateError as exc:
        raise ConfigError(f"{path}: template error: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it again as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
