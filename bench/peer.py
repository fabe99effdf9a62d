"""The peer in the intake benchmark: django-helpdesk's `get_email` on the same mail.

    python bench/peer.py --setup          # create (or check) the cached venv, nothing else
    python bench/peer.py [--n 100]        # = python bench/intake.py --cases floor,peer --n 100

django-helpdesk 2.6.1 (pinned, with the Django it supports and its other needs pinned too) is
installed in its own venv, cached in ~/.cache/mailproc-bench/peer-venv (--venv) and reused
while its pins are the same. `bench/intake.py --cases …,peer` calls `run_peer()` with a Dovecot
user whose INBOX holds the same N generated mails as the other cases, and the SMTP server of
that run. `run_peer()`:

  1. writes a throwaway Django project to a temporary directory: settings (SQLite, Django's
     defaults otherwise; helpdesk and the apps it needs; Django's SMTP e-mail backend pointed
     at the bench's SMTP server), a URLconf with helpdesk's URLs (the mail templates link to
     the ticket);
  2. runs `migrate` (which also loads helpdesk's e-mail templates) and creates one Queue:
     IMAP, plain (port 143: imaplib tries STARTTLS, which this Dovecot offers, so the peer
     reads over TLS), the bench user and password, INBOX, email_address the complaints
     address the mails are sent to, new_ticket_cc the marketing admin (the notice, the same
     as mailproc's; `ack_only=True` leaves it out), logging off. Not timed;
  3. times `get_email` (the management command, through call_command) in a fresh process of
     the venv's python, measured like every other case: wall from spawn to exit, CPU from
     wait4(), peak RSS as VmHWM read by the child at its end;
  4. checks the job: N tickets, N follow-ups that record the submitter among the mail's
     recipients, INBOX empty afterwards. The caller checks the mail the SMTP server got.

What get_email does per mail (helpdesk/email.py, imap_sync): one `FETCH n (RFC822)`, parse with
the `email` package's default policy, look the subject up for a ticket slug, extract body and
attachments (every MIME part but the body is stored as a file, the HTML part too), create the
Ticket and its FollowUp, add To/Cc as TicketCC, render the `newticket_submitter` (and
`newticket_cc`) template from the database and send each mail with Django's SMTP backend, which
opens one SMTP connection per mail; then `STORE +FLAGS \\Deleted`, and EXPUNGE at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

HELPDESK_VERSION = "2.6.1"
# What `pip install django-helpdesk==2.6.1 "Django>=5.2,<5.3"` resolved on 2026-12-01.
# django-helpdesk 2.6.1 requires Django >= 5.2; 5.2 is the LTS it is tested with.
PINS = [
    f"django-helpdesk=={HELPDESK_VERSION}",
    "Django==5.2.19",
    "asgiref==3.13.0",
    "sqlparse==0.6.1",
    "beautifulsoup4==4.15.0",
    "soupsieve==4.1.3",
    "django-cleanup==9.0.0",
    "django-model-utils==5.0.0",
    "djangorestframework==3.18.3",
    "email-reply-parser==0.5.12",
    "Markdown==3.11.3",
    "nh3==0.3.8",
    "oauthlib==4.0.1",
    "requests-oauthlib==2.0.0",
    "requests==2.34.2",
    "charset-normalizer==3.5.3",
    "idna==3.20",
    "urllib3==2.8.0",
    "certifi==2026.10.19.post1",
    "typing_extensions==4.16.0",
]
DEFAULT_VENV = Path.home() / ".cache" / "mailproc-bench" / "peer-venv"
NOTICE_TO = "admin.marketing@contoh.co.id"  # [people] marketing_admin of the example config


def log(msg: str) -> None:
    import time

    print(f"[peer {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- the venv ----------------------------------------------------------------------------

def _pins_key() -> str:
    return hashlib.sha256("\n".join(PINS).encode()).hexdigest()[:16]


def ensure_venv(path: Path = DEFAULT_VENV) -> Path:
    """The venv's python, creating the venv (or re-installing into it) when its pins differ."""
    python = path / "bin" / "python"
    stamp = path / "bench-pins.txt"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == _pins_key():
        return python
    log(f"creating the peer venv in {path} (django-helpdesk {HELPDESK_VERSION}, pinned)")
    path.parent.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *PINS], check=True)
    check = subprocess.run([str(python), "-c", "import django, helpdesk; print(django.VERSION)"],
                           check=True, capture_output=True, text=True)
    stamp.write_text(_pins_key() + "\n")
    log(f"peer venv ready: Django {check.stdout.strip()}")
    return python


# ---- the throwaway Django project --------------------------------------------------------

SETTINGS = """\
from pathlib import Path
BASE = Path({base!r})
SECRET_KEY = "mailproc-bench-peer"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "Asia/Jakarta"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django.contrib.humanize",
    "django.contrib.staticfiles",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "bench_urls"
SITE_ID = 1
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3",
                          "NAME": str(BASE / "helpdesk.sqlite3")}}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {{"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]}},
}}]
STATIC_URL = "/static/"
MEDIA_ROOT = str(BASE / "media")
MEDIA_URL = "/media/"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = {smtp_host!r}
EMAIL_PORT = {smtp_port}
EMAIL_USE_TLS = False
EMAIL_TIMEOUT = 60
DEFAULT_FROM_EMAIL = {from_address!r}
HELPDESK_TEAMS_MODE_ENABLED = False  # teams need pinax-teams, the "teams" extra
LOGGING = {{"version": 1, "disable_existing_loggers": False,
           "root": {{"level": "WARNING", "handlers": []}}}}
"""

URLS = """\
from django.urls import include, path
urlpatterns = [path("helpdesk/", include("helpdesk.urls"))]
"""

SETUP_CHILD = r"""
import json, os, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from helpdesk.models import EmailTemplate, Queue
cfg = json.loads(sys.argv[1])
Queue.objects.create(
    title="Keluhan Pelanggan", slug="keluhan", email_address=cfg["address"],
    allow_email_submission=True, email_box_type="imap", email_box_host=cfg["host"],
    email_box_port=cfg["port"], email_box_ssl=cfg["ssl"], email_box_user=cfg["user"],
    email_box_pass=cfg["password"], email_box_imap_folder="INBOX", email_box_interval=0,
    new_ticket_cc=cfg["notice_to"] or None, logging_type="none")
print(json.dumps({"email_templates": EmailTemplate.objects.count()}))
"""

# The timed process: what `manage.py get_email --quiet` does, plus the phases and VmHWM.
GET_EMAIL_CHILD = r"""
import time
t_start = time.monotonic()
import json, os
import django
django.setup()
from django.core.management import call_command
t_imported = time.monotonic()
call_command("get_email", quiet=True)
t_end = time.monotonic()
def _vmhwm_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
with open(os.environ["BENCH_REPORT"], "w") as fh:
    json.dump({"t_start": t_start, "import_s": t_imported - t_start,
               "work_s": t_end - t_imported, "vmhwm_kb": _vmhwm_kb()}, fh)
"""

CHECK_CHILD = r"""
import json
import django
django.setup()
from helpdesk.models import FollowUp, Queue, Ticket
tickets = Ticket.objects.count()
acked = sum(1 for f in FollowUp.objects.select_related("ticket")
            if f.ticket.submitter_email in (f.email_recipients or []))
q = Queue.objects.get(slug="keluhan")
print(json.dumps({"tickets": tickets, "followups": FollowUp.objects.count(),
                  "followups_with_ack": acked,
                  "last_check": q.email_box_last_check.isoformat() if q.email_box_last_check
                  else None}))
"""


def run_peer(*, python: Path, workdir: Path, imap_host: str, imap_port: int, tls: bool,
             user: str, password: str, address: str, smtp_host: str, smtp_port: int, n: int,
             ack_only: bool = False, timeout: float = 600.0) -> dict[str, Any]:
    """Set the project up in `workdir`, time one `get_email` over `user`'s INBOX, check it.
    Raises SystemExit when the peer did not register every mail."""
    from intake import run_child  # bench/ is on sys.path: intake.py imports us lazily

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench_settings.py").write_text(SETTINGS.format(
        base=str(workdir), smtp_host=smtp_host, smtp_port=smtp_port,
        from_address=f"Keluhan Pelanggan <{address}>"))
    (workdir / "bench_urls.py").write_text(URLS)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAILPROC_", "PYTHON", "VIRTUAL_ENV", "DJANGO_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "bench_settings", "PYTHONPATH": str(workdir),
            "PYTHONDONTWRITEBYTECODE": "1"}
    cfg = {"address": address, "host": imap_host, "port": imap_port, "ssl": tls, "user": user,
           "password": password, "notice_to": "" if ack_only else NOTICE_TO}
    setup = subprocess.run([str(python), "-c", SETUP_CHILD, json.dumps(cfg)], env=env,
                           cwd=workdir, capture_output=True, text=True)
    if setup.returncode:
        raise SystemExit(f"peer setup failed:\n{setup.stdout[-2000:]}\n{setup.stderr[-3000:]}")
    templates = json.loads(setup.stdout.strip().splitlines()[-1])["email_templates"]
    r = run_child([str(python), "-c", GET_EMAIL_CHILD], env, workdir, "peer-get-email", timeout)
    out, err = r.pop("stdout"), r.pop("stderr")
    check = subprocess.run([str(python), "-c", CHECK_CHILD], env=env, cwd=workdir,
                           capture_output=True, text=True)
    if check.returncode:
        raise SystemExit(f"peer check failed:\n{check.stderr[-3000:]}")
    got = json.loads(check.stdout.strip().splitlines()[-1])
    r |= got | {"email_templates": templates, "ack_only": ack_only,
                "helpdesk": HELPDESK_VERSION, "venv": str(python.parent.parent)}
    if got["tickets"] != n or got["followups_with_ack"] != n:
        raise SystemExit(
            f"the peer did not do the whole job: {got['tickets']} tickets of {n}, "
            f"{got['followups_with_ack']} acknowledgements recorded\n--- stdout ---\n"
            f"{out[-2000:]}\n--- stderr ---\n{err[-3000:]}")
    return r


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setup", action="store_true", help="only create or check the venv")
    p.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    p.add_argument("--n", type=int, default=100)
    args, rest = p.parse_known_args()
    python = ensure_venv(args.venv)
    if args.setup:
        print(python)
        return
    intake = Path(__file__).with_name("intake.py")
    cmd = [sys.executable, str(intake), "--n", str(args.n), "--cases", "floor,peer",
           "--keep-inbox", "0", "--peer-venv", str(args.venv), *rest]
    raise SystemExit(subprocess.call(cmd))


if __name__ == "__main__":
    main()
