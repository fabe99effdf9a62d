"""`mailproc doctor`: is this installation ready to run? One line per check, each with what to
fix; it never processes, moves or sends mail.

The checks: the configuration (and its unknown keys), every template (both forms, the closure
report, the recap and every mail text, rendered with sample data and undefined variables as
errors), the database (reachable, schema current), the mailbox (login, folders, capabilities
after login), the outgoing server (connection, TLS, login, SMTPUTF8 and SIZE; nothing sent),
the holiday data for this year and next, and the archive (writable, free space). The
connection probes live with their I/O: `mailbox.probe` and `transports.probe`.

The sample contexts of the mail texts below carry every variable the code passes to each
text (see the call sites of `texts.render`); keep them in step when a call site changes.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mailproc import holidays_id, store
from mailproc.archive import Archive
from mailproc.bootstrap import App
from mailproc.config import Settings, load_settings
from mailproc.domain import figures
from mailproc.domain.forms import Action
from mailproc.domain.records import ComplaintRecord, CycleRecord
from mailproc.errors import MailprocError
from mailproc.forms import catalogue
from mailproc.outgoing.texts import MailTexts
from mailproc.reports import jobs as reportjobs
from mailproc.reports import output as reports

OK, WARN, FAIL = "ok", "warn", "fail"
FREE_SPACE_WARN = 1024 ** 3  # bytes free under the archive below which doctor warns
_LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Check:
    check: str
    status: str  # ok, warn or fail
    message: str  # one line; for warn and fail it says what to fix

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "message": self.message}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run(config_path: Path, env: Mapping[str, str],
        clock: Callable[[], datetime] | None = None) -> list[Check]:
    """Every check, in order. A configuration that does not load is the only check then."""
    try:
        settings = load_settings(config_path, env, strict=False)
    except MailprocError as exc:
        return [Check("config", FAIL, _one_line(exc))]
    now = (clock or (lambda: datetime.now(UTC)))()
    checks: list[Check] = []
    for group in (_config, _templates, _mail_texts, _logo, _pdf, _database, _web, _imap, _smtp,
                  _calendar, _archive):
        checks += _guarded(group, settings, now)
    return checks


def _guarded(group: Callable[[Settings, datetime], list[Check]], settings: Settings,
             now: datetime) -> list[Check]:
    try:
        return group(settings, now)
    except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed line, not a traceback
        name = group.__name__.strip("_").replace("_", " ")
        return [Check(name, FAIL, _one_line(f"unexpected error: {type(exc).__name__}: {exc}"))]


# ---- configuration -------------------------------------------------------------------------

def _config(settings: Settings, now: datetime) -> list[Check]:
    path = settings.config_path
    unknown = settings.unknown_keys
    if unknown:
        return [Check("config", FAIL, f"{path}: {'; '.join(unknown)}: correct or remove them "
                                      "(every key is in config/mailproc.example.toml)")]
    return [Check("config", OK, f"{path} loads, no unknown keys")]


# ---- templates -----------------------------------------------------------------------------

def _logo(settings: Settings, now: datetime) -> list[Check]:
    """The company logo the form headers print (company.logo)."""
    from mailproc.bootstrap import logo_problem

    path = settings.company.logo
    if path is None:
        return [Check("company logo", WARN, "not set: the form headers print a grey \"LOGO\" "
                      "box; set company.logo to a PNG file")]
    problem = logo_problem(path)
    if problem:
        return [Check("company logo", FAIL, problem)]
    return [Check("company logo", OK, f"{path}: printed in every form header")]


def _pdf(settings: Settings, now: datetime) -> list[Check]:
    """LibreOffice, the optional part that makes the PDF copies (documents.pdf_copies)."""
    if not settings.pdf_copies:
        return [Check("pdf copies", OK, "off (documents.pdf_copies = false): Word files only")]
    from mailproc.forms.pdf import find_soffice

    found = find_soffice(settings.libreoffice)
    if found is None:
        where = (f"documents.libreoffice = {settings.libreoffice!r} does not exist"
                 if settings.libreoffice else "soffice is not on the PATH")
        return [Check("pdf copies", WARN, f"LibreOffice not found ({where}): documents go as "
                      "Word files only; install libreoffice-writer (or set "
                      "documents.pdf_copies = false)")]
    return [Check("pdf copies", OK, f"{found}: the closure report and the analysis go with a "
                  "PDF copy")]


def _templates(settings: Settings, now: datetime) -> list[Check]:
    out = []
    for key in ("ptpp", "retur", "closure", "recap"):
        template = settings.forms[key].template
        if key in ("ptpp", "retur"):
            problems = catalogue.check_template(template, key, strict=True)
        else:
            problems = _check_report(settings, key, now)
        if problems:
            out.append(Check(f"template {key}", FAIL, _one_line(
                "; ".join(problems) + f"; fix the template (or documents.{key}.template in "
                "the configuration); `mailproc templates check` says the same")))
        else:
            out.append(Check(f"template {key}", OK, f"{template} renders with sample data"))
    return out


def _check_report(settings: Settings, key: str, now: datetime) -> list[str]:
    template = settings.forms[key].template
    app = _sample_app(settings, now)
    record = sample_record(now)
    try:
        if key == "closure":
            reports.render_closure(template, reportjobs.closure_context(app, record),
                                   strict=True)
        else:
            reports.render_recap(template, sample_recap_context(app, record, now),
                                 [("Contoh grafik", catalogue._PNG_1PX)],  # noqa: SLF001
                                 strict=True)
    except MailprocError as exc:
        return [_one_line(exc)]
    return []


def _sample_app(settings: Settings, now: datetime) -> App:
    """An App whose clock stands still at `now`; the report builders need no database."""
    return App(settings, Archive(settings.archive_dir), MailTexts(settings.templates_dir),
               lambda: now)


def sample_record(now: datetime) -> ComplaintRecord:
    """One closed complaint with two cycles, as `reportdata` would load it."""
    received = now - timedelta(days=20)
    action = Action(no=1, cause="Suhu mesin tidak stabil", corrective="Kalibrasi mesin",
                    preventive="Jadwal kalibrasi bulanan", pic="Budi (Produksi)",
                    target=(now - timedelta(days=5)).date())

    def cycle(n: int, result: str) -> CycleRecord:
        start = received + timedelta(days=n)
        return CycleRecord(
            cycle=n, department="Quality Control", issued_at=start,
            plan_due_at=start + timedelta(days=3), planned_at=start + timedelta(days=2),
            implemented_at=start + timedelta(days=6), correction="Barang diganti",
            whys=("Kemasan bocor", "Segel tidak rapat"), category_6m="Mesin",
            root_cause="Suhu sealer terlalu rendah", actions=(action,),
            completion_date=(start + timedelta(days=6)).date(),
            completion_evidence="Laporan kalibrasi", verification_result=result,
            verification_note="Tidak terulang pada 2 pengiriman", verifier="Rina",
            verified_at=start + timedelta(days=8),
            closed_at=start + timedelta(days=8) if result == "effective" else None)

    return ComplaintRecord(
        number="001/PTPP/MKT/XI/2026", year=now.year, seq=1, received_at=received,
        channel="email", customer="PT Pelanggan Setia", customer_email="qa@pelanggan.example",
        subject="Kemasan bocor", description="Kemasan botol bocor pada batch LOT-2611-07.",
        product="Botol PET 600 ml", batch="LOT-2611-07", quantity="1.200 pcs",
        category="Kualitas / cacat produk", department="Quality Control", status="closed",
        valid=True, first_response_at=received + timedelta(hours=2),
        first_response_due_at=received + timedelta(days=1), closed_at=now - timedelta(days=1),
        return_requested=True, return_claim="RT-001", remarks="",
        cycles=(cycle(1, "not_effective"), cycle(2, "effective")))


def sample_recap_context(app: App, record: ComplaintRecord, now: datetime) -> dict[str, Any]:
    """The recap's context as `reportjobs.build_recap` passes it (charts are added by
    `reports.render_recap`)."""
    local = now.astimezone(app.settings.timezone)
    fig = figures.recap([record], year=local.year, month=local.month, now=now,
                        cal=app.calendar, targets=reportjobs.step_targets(app))
    rows = figures.register_rows([record], app.calendar)
    return reportjobs.recap_context(app, fig, rows, year=local.year, month=local.month,
                                    now=now)


# ---- mail texts ----------------------------------------------------------------------------

_N = "001/PTPP/MKT/XI/2026"
_CO = "PT Contoh Industri"
_WHEN = "25 November 2026 14:05 WIB"
_SIGN = "Administrasi Marketing\nPT Contoh Industri"
_ACTIONS = [{"no": 1, "cause": "Suhu sealer rendah", "corrective": "Kalibrasi mesin",
             "preventive": "Kalibrasi bulanan", "pic": "Budi", "target": "30/11/2026"}]
_DIGEST_ITEM = {"number": _N, "customer": "PT Pelanggan Setia", "department": "Quality Control",
                "status": "Menunggu analisis", "what": "analisis dan rencana tindakan",
                "due": _WHEN, "late": "1,5 hari kerja"}
_DIGEST = {"date": "25 November 2026", "company_name": _CO,
           "open_by_step": [("Menunggu analisis", 1), ("Dalam tindakan", 2)], "open_total": 3,
           "overdue": [_DIGEST_ITEM], "due_soon": [_DIGEST_ITEM], "closed_since": [_DIGEST_ITEM],
           "since": "24 November 2026 08:00 WIB", "chain_head": "3f5a" * 16}
_CLOSED = {"number": _N, "company_name": _CO, "subject": "Kemasan bocor", "cycles": 2,
           "note": "Tidak terulang", "root_cause": "Suhu sealer rendah", "signature": _SIGN,
           "customer": "PT Pelanggan Setia", "received_at": _WHEN, "closed_at": _WHEN}
_PLAN = {"number": _N, "company_name": _CO, "department": "Quality Control", "cycle": 2,
         "customer": "PT Pelanggan Setia", "subject": "Kemasan bocor",
         "correction": "Barang diganti", "category_6m": "Mesin",
         "whys": ["Kemasan bocor", "Segel tidak rapat"], "root_cause": "Suhu sealer rendah",
         "actions": _ACTIONS, "issuer": "Administrasi Marketing", "audience": "Bapak/Ibu",
         "attached": True}

# Every variable each call site passes (grep `texts.render(`); a template may use any of them.
MAIL_SAMPLES: dict[str, dict[str, Any]] = {
    "ack_customer": {"number": _N, "customer_name": "Budi", "company_name": _CO,
                     "signature": _SIGN, "received_at": _WHEN, "subject": "Barang rusak"},
    "notice_new_complaint": {
        "number": _N, "company_name": _CO, "received_at": _WHEN,
        "customer_display": "Budi <budi@pelanggan.example>", "received_by": "Rina",
        "channel": "Email", "contact": "0812-3456-789", "category_label": "Kualitas produk",
        "department_label": "Quality Control", "product": "Botol PET 600 ml",
        "batch": "LOT-2611-07", "quantity": "1.200 pcs", "invoice": "INV-001",
        "delivery_note": "SJ-001", "return_requested": True, "attachment_count": 2,
        "status_label": "PTPP terbit", "description": "Kemasan bocor.", "triage": False,
        "ack_sent": True, "ack_note": "", "ptpp_note": "", "example_department": "Quality Control",
        "severity_label": "Mayor", "repeat_of": "003/PTPP/MKT/X/2026", "ack_counts": False},
    "notice_follow_up": {"number": _N, "company_name": _CO,
                         "sender_display": "Budi <budi@pelanggan.example>",
                         "subject": "Re: Barang rusak", "attachment_count": 1,
                         "received_at": _WHEN, "status_label": "PTPP terbit",
                         "text": "Foto tambahan terlampir.", "analysis_request": True},
    "notice_bounce": {"number": _N, "company_name": _CO, "to": "budi@pelanggan.example",
                      "subject": "Keluhan Anda telah kami terima",
                      "report": "550 5.1.1 user unknown", "ack": True,
                      "customer_display": "Budi <budi@pelanggan.example>"},
    "notice_send_failed": {"number": _N, "company_name": _CO, "to": "josé@pelanggan.example",
                           "subject": "Keluhan Anda telah kami terima",
                           "report": "the SMTP server does not offer SMTPUTF8", "ack": True,
                           "customer_display": "José <josé@pelanggan.example>", "attempts": 1,
                           "outgoing_id": 42},
    "notice_quarantine": {"company_name": _CO, "quarantine_folder": "Quarantine",
                          "sender": "budi@pelanggan.example", "subject": "Barang rusak",
                          "date": _WHEN, "size": "30.000.000 byte",
                          "reason": "email terlalu besar", "archive_path": "2026/11/x.eml",
                          "number": _N},
    "ptpp_to_department": {"number": _N, "department": "Quality Control", "cycle": 1,
                           "plan_due": _WHEN, "customer": "PT Pelanggan Setia",
                           "received_at": _WHEN, "category": "Kualitas produk",
                           "product": "Botol PET 600 ml", "batch": "LOT-2611-07",
                           "quantity": "1.200 pcs", "description": "Kemasan bocor.",
                           "filename": "PTPP-001.docx", "issuer": "Administrasi Marketing",
                           "company_name": _CO, "severity_label": "Mayor",
                           "ptpp_number": _N, "previous_number": ""},
    "notice_flood": {"number": _N, "company_name": _CO, "sender": "budi@pelanggan.example",
                     "count": 11, "limit": 10, "subject": "Barang rusak", "received_at": _WHEN},
    "ptpp_withdrawn": {"number": _N, "department": "Quality Control", "cycle": 1,
                       "new_department": "Logistik", "filename": "PTPP-001.docx",
                       "issued_at": _WHEN, "issuer": "Administrasi Marketing",
                       "company_name": _CO},
    "ptpp_involved": {"number": _N, "department": "Produksi", "responsible": "Quality Control",
                      "note": "Mohon cek catatan suhu mesin 3.", "customer": "PT Pelanggan Setia",
                      "received_at": _WHEN, "category": "Kualitas produk",
                      "product": "Botol PET 600 ml", "batch": "LOT-2611-07",
                      "description": "Kemasan bocor.", "original": True,
                      "issuer": "Administrasi Marketing", "company_name": _CO},
    "return_form_to_customer": {"number": _N, "customer_name": "Budi",
                                "filename": "Retur-001.docx", "signature": _SIGN},
    "form_problem": {"number": _N, "company_name": _CO, "recipient": "Bagian Quality Control",
                     "what": "formulir PTPP", "problems": ["Akar penyebab belum diisi"],
                     "closing": "Terima kasih."},
    "form_accepted": {"number": _N, "company_name": _CO, "recipient": "Bagian Quality Control",
                      "title": "Formulir PTPP diterima", "what": "formulir PTPP",
                      "status_label": "Analisis diterima",
                      "next_step": "Mohon isi bagian Penyelesaian."},
    "decision_reply": {"number": _N, "company_name": _CO, "done": ["tutup"],
                       "refused": ["bagian tidak dikenal"], "help": "tutup, tolak ALASAN",
                       "status_label": "Ditutup"},
    "notice_manual_entry": {"number": _N, "company_name": _CO,
                            "sender": "qc@contoh.co.id", "files": ["scan.pdf"],
                            "filenames": "scan.pdf", "archive": "2026/11/x.eml"},
    "notice_implemented": {"number": _N, "company_name": _CO, "department": "Quality Control",
                           "completion_date": "28/11/2026",
                           "completion_evidence": "Laporan kalibrasi"},
    "notice_plan": _PLAN,
    "notice_return_claim": {"number": _N, "company_name": _CO,
                            "customer": "PT Pelanggan Setia", "items": ["Botol PET 600 ml"]},
    "closing_customer": {**_CLOSED, "customer_name": "Budi"},
    "return_decision": {"number": _N, "claim_number": "KR-001", "customer_name": "Budi",
                        "signature": _SIGN, "approved": False,
                        "inspection": "15 botol retak di leher.",
                        "reason": "Retak karena jatuh saat bongkar muat di gudang pelanggan."},
    "return_settled": {"number": _N, "claim_number": "KR-001", "customer_name": "Budi",
                       "signature": _SIGN, "settlement": "Nota kredit",
                       "reference": "NK-2612-004"},
    "notice_satisfaction": {"number": _N, "company_name": _CO,
                            "customer_display": "Budi <budi@pelanggan.example>",
                            "subject": "Barang rusak", "closed_at": _WHEN,
                            "rating_label": "2 (Tidak puas)", "comment": "Terlalu lama.",
                            "low": True, "report": True},
    "thanks_satisfaction": {"number": _N, "customer_name": "Budi", "rating_label": "4 (Puas)",
                            "low": False, "signature": _SIGN},
    "notice_closed": {**_CLOSED, "customer_notified": True, "report": True},
    "question_customer": {"number": _N, "customer_name": "Budi",
                          "question": "Mohon kirim foto label batch.",
                          "subject": "Barang rusak", "signature": _SIGN},
    "digest": _DIGEST,
    "recap": {"period": "November 2026", "company_name": _CO, "total": 5, "closed": 3,
              "open": 2, "median": "4,0 hari kerja", "on_target": "80%",
              "chain_head": "3f5a" * 16, "by_severity": "1 / 3 / 1",
              "satisfaction": "4,2 (n = 5)",
              "satisfaction_spread": "1: 0 · 2: 1 · 3: 0 · 4: 2 · 5: 2", "repeats": 1,
              "open_total": 4, "open_at": "30 November 2026"},
    "notice_no_response": {"number": _N, "company_name": _CO, "customer": "PT Pelanggan Setia",
                           "channel": "telepon", "contact": "0812-3456-789", "due": _WHEN},
    "reminder_department": {"number": _N, "company_name": _CO, "department": "Quality Control",
                            "overdue": True,
                            "items": ["Analisis dan rencana: terlambat 1,0 hari kerja"]},
    "reminder_marketing": {"number": _N, "company_name": _CO, "customer": "PT Pelanggan Setia",
                           "step": "evaluasi efektivitas tindakan", "how": "Mohon catat.",
                           "due": _WHEN, "overdue": True, "late": "1.5"},
    "escalation_ops": {"number": _N, "company_name": _CO, "department": "Quality Control",
                       "items": ["Analisis dan rencana: terlambat 1,0 hari kerja"],
                       "customer": "PT Pelanggan Setia"},
}
HTML_SAMPLES: dict[str, dict[str, Any]] = {"digest": _DIGEST}


def check_mail_texts(templates_dir: Path) -> list[str]:
    """Problems of the mail texts in `templates_dir`/email, one sentence each naming the file:
    every text mailproc sends rendered with a sample of what the code passes, in the same
    sandbox and with undefined variables as errors (as when mail is processed)."""
    texts = MailTexts(templates_dir)
    problems = []
    for name, context in MAIL_SAMPLES.items():
        try:
            texts.render(name, **context)
        except MailprocError as exc:
            problems.append(_one_line(exc))
    for name, context in HTML_SAMPLES.items():
        if (texts.dir / f"{name}.html").exists():
            try:
                texts.render_html(name, **context)
            except MailprocError as exc:
                problems.append(_one_line(exc))
    return problems


def unused_mail_texts(templates_dir: Path) -> list[Path]:
    """Files in the email folder that no mail uses (a misspelt copy, say)."""
    folder = templates_dir / "email"
    known = {f"{n}.txt" for n in MAIL_SAMPLES} | {f"{n}.html" for n in HTML_SAMPLES}
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir())
            if p.suffix in (".txt", ".html") and p.name not in known]


def _mail_texts(settings: Settings, now: datetime) -> list[Check]:
    problems = check_mail_texts(settings.templates_dir)
    checks = [Check("mail texts", FAIL, f"{p}; fix the text (the variables each text gets are "
                                        "listed in mailproc/doctor.py MAIL_SAMPLES)")
              for p in problems]
    checks += [Check("mail texts", WARN, f"{p}: no mail uses this file; a misspelt copy? "
                                         "rename or remove it") for p in
               unused_mail_texts(settings.templates_dir)]
    if not problems:
        checks.insert(0, Check("mail texts", OK, f"{len(MAIL_SAMPLES) + len(HTML_SAMPLES)} "
                                                 f"texts in {settings.templates_dir / 'email'} "
                                                 "render with sample data"))
    return checks


# ---- database ------------------------------------------------------------------------------

def _database(settings: Settings, now: datetime) -> list[Check]:
    url = settings.database_url
    shown = url if url.startswith("sqlite:") else url.split("@")[-1]
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///"):])
        if not path.exists():
            return [Check("database", FAIL, f"{path} does not exist; run `mailproc init`")]
    try:
        database = store.open_database(url, source=settings.source("database.url"))
        try:
            store.check_schema()
            version = store.SCHEMA_VERSION
        finally:
            with contextlib.suppress(store.DatabaseError):  # driver errors come wrapped
                database.close()
    except MailprocError as exc:
        return [Check("database", FAIL, _one_line(exc))]
    except store.DatabaseError as exc:  # the driver's errors, wrapped by peewee
        return [Check("database", FAIL, _one_line(
            f"cannot use the database {shown}: {type(exc).__name__}: {exc}; check database.url "
            "(or MAILPROC_DATABASE_URL) and that the server is up"))]
    return [Check("database", OK, f"{shown} reachable, schema version {version} is current")]


def _web(settings: Settings, now: datetime) -> list[Check]:
    """The web page (`mailproc serve`): where it listens, and whether anyone can sign in."""
    from mailproc.store import webviews

    web = settings.web
    host = web.listen.rpartition(":")[0].strip("[]")
    out = []
    if host not in ("127.0.0.1", "localhost", "::1") and not (web.secure_cookies
                                                              or web.behind_proxy):
        out.append(Check("web", WARN, f"web.listen = {web.listen} answers beyond this machine "
                         "without TLS; listen on 127.0.0.1 behind a reverse proxy with TLS and "
                         "set web.behind_proxy = true (docs/deploy.md)"))
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return out  # opening would create it; the database check says to run `init`
    try:
        database = store.open_database(url, source=settings.source("database.url"))
        try:
            admins = webviews.admin_count()
        finally:
            with contextlib.suppress(store.DatabaseError):
                database.close()
    except (MailprocError, store.DatabaseError):
        return out  # the database check says what is wrong
    if admins == 0:
        out.append(Check("web accounts", WARN, "no admin account: nobody can act on the web "
                         "page; add one with `mailproc users add NAME --role admin`"))
    else:
        out.append(Check("web accounts", OK, f"{admins} admin account(s)"))
    return out or [Check("web", OK, f"mailproc serve listens on {web.listen}")]


# ---- mailbox -------------------------------------------------------------------------------

def _stage(message: str, prefix: str) -> str:
    low = message.lower()
    if "login" in low or "oauth" in low or "token" in low:
        return f"{prefix} login"
    if "folder" in low:
        return f"{prefix} folders"
    return f"{prefix} connection"


def _imap(settings: Settings, now: datetime) -> list[Check]:
    from mailproc import oauth
    from mailproc.intake import mailbox

    cfg = settings.mailbox
    try:
        found = mailbox.probe(cfg, oauth.token_source(settings, "mailbox"))
    except MailprocError as exc:
        message = _one_line(exc)
        return [Check(_stage(message, "imap"), FAIL, message)]
    if found.security == "maildir":
        line = [Check("mailbox", OK, f"{found.where} is a Maildir")]
        if found.missing_folders:
            line.append(Check("mailbox folders", WARN, f"no {', '.join(found.missing_folders)} "
                                                       "folder yet; run `mailproc init`"))
        return line
    if found.security == "none" and cfg.host not in _LOCAL_HOSTS:
        checks = [Check("imap login", WARN, f"logged in to {found.where} without TLS: the "
                                            "password travels in clear; use imaps:// or "
                                            "?starttls=1 in mailbox.url")]
    else:
        checks = [Check("imap login", OK, f"logged in to {found.where} "
                                          f"({_tls_words(found.security)})")]
    if found.missing_folders:
        absent = ", ".join(found.missing_folders)
        checks.append(Check("imap folders", WARN, f"{cfg.folder} opens; {absent} missing: the "
                                                  "first poll creates them (or check "
                                                  "mailbox.processed_folder / "
                                                  "quarantine_folder)"))
    else:
        checks.append(Check("imap folders", OK, f"{cfg.folder} opens; {len(found.folders)} "
                                                "folder(s) listed"))
    caps = set(found.capabilities)
    have = ", ".join(c for c in ("MOVE", "UIDPLUS", "IDLE") if c in caps) or "none of them"
    if cfg.mode == "move" and not caps & {"MOVE", "UIDPLUS"}:
        checks.append(Check("imap capabilities", WARN,
                            "neither MOVE nor UIDPLUS: moving mail needs a folder-wide EXPUNGE, "
                            "which also removes mail other clients marked deleted; use "
                            "mailbox.mode = \"keep\" or a server with MOVE"))
    elif cfg.mode == "move" and "MOVE" not in caps:
        checks.append(Check("imap capabilities", WARN, f"{have}; no MOVE: mail is moved by "
                                                       "COPY, delete and UID EXPUNGE"))
    else:
        note = "" if "IDLE" in caps else " (no IDLE: not needed, mailproc polls)"
        checks.append(Check("imap capabilities", OK, f"{have}{note}"))
    return checks


def _tls_words(security: str) -> str:
    return {"ssl": "TLS, certificate verified", "starttls": "STARTTLS, certificate verified",
            "none": "no TLS"}.get(security, security)


# ---- outgoing mail -------------------------------------------------------------------------

def _smtp(settings: Settings, now: datetime) -> list[Check]:
    from mailproc.outgoing import transports

    cfg = settings.smtp
    try:
        found = transports.probe(settings)
    except MailprocError as exc:
        message = _one_line(exc)
        return [Check(_stage(message, "smtp"), FAIL, message)]
    if found.security == "maildir":
        return [Check("smtp", OK, f"outgoing mail is written to {found.where} (not sent)")]
    checks = []
    local = cfg.host in _LOCAL_HOSTS
    if found.security == "none" and "starttls" in found.features:
        checks.append(Check("smtp connection", WARN, f"{found.where} offers STARTTLS but "
                                                     "smtp.url does not use it: add ?starttls=1 "
                                                     "(or use smtps://)"))
    elif found.security == "none" and not local:
        checks.append(Check("smtp connection", WARN, f"{found.where} without TLS: mail and "
                                                     "password travel in clear; use smtps:// "
                                                     "or ?starttls=1"))
    else:
        checks.append(Check("smtp connection", OK, f"{found.where} answers EHLO "
                                                   f"({_tls_words(found.security)})"))
    if cfg.user or cfg.auth == "oauth2":
        checks.append(Check("smtp login", OK, f"logged in as {cfg.user}"))
    else:
        checks.append(Check("smtp login", OK, "no login configured (smtp.url has no user)"))
    if found.smtputf8:
        checks.append(Check("smtp smtputf8", OK, "SMTPUTF8 offered: mail to addresses with "
                                                 "non-ASCII characters can go out"))
    else:
        checks.append(Check("smtp smtputf8", WARN, "no SMTPUTF8: mail to an address with "
                                                   "non-ASCII characters (josé@…) fails and "
                                                   "marketing administration is told; use a "
                                                   "server that offers it to send such mail"))
    size = found.size_limit
    need = settings.limits.max_attachment_bytes * 4 // 3  # base64
    if size is None:
        checks.append(Check("smtp size", OK, "no SIZE limit announced"))
    elif size < need:
        checks.append(Check("smtp size", WARN, f"the server takes mail up to {size:,} bytes, "
                                               f"less than one attachment of "
                                               f"limits.max_attachment_bytes "
                                               f"({settings.limits.max_attachment_bytes:,}) "
                                               "once encoded: lower that limit or raise the "
                                               "server's"))
    else:
        checks.append(Check("smtp size", OK, f"mail up to {size:,} bytes"))
    return checks


# ---- calendar ------------------------------------------------------------------------------

def _calendar(settings: Settings, now: datetime) -> list[Check]:
    year = now.astimezone(settings.timezone).year
    with_leave = settings.calendar.cuti_bersama
    out = []
    for y in (year, year + 1):
        national = holidays_id.indonesian_days_off([y], cuti_bersama=False)
        every = holidays_id.indonesian_days_off([y], cuti_bersama=True)
        leave = len(every) - len(national)
        estimated = sum("perkiraan" in name.lower() for name in national.values())
        if not national:
            out.append(Check(f"calendar {y}", FAIL if y == year else WARN,
                             f"the holidays package has no Indonesian holidays for {y}: "
                             "upgrade it (pip install -U holidays) or list the days in "
                             "calendar.company_days_off"))
        elif with_leave and not leave:
            out.append(Check(f"calendar {y}", WARN,
                             f"{len(national)} national holidays but no cuti bersama for {y} "
                             "in the holidays package: update it once the decree is out, or "
                             "list those days in calendar.company_days_off"))
        else:
            note = f", {estimated} estimated" if estimated else ""
            leave_note = f", {leave} cuti bersama" if with_leave else ""
            out.append(Check(f"calendar {y}", OK,
                             f"{len(national)} national holidays{note}{leave_note}"))
    return out


# ---- archive -------------------------------------------------------------------------------

def _archive(settings: Settings, now: datetime) -> list[Check]:
    out = []
    for name, folder in (("archive", settings.archive_dir), ("state folder", settings.state_dir)):
        if not folder.is_dir():
            out.append(Check(name, FAIL, f"{folder} does not exist; run `mailproc init`"))
            continue
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
                pass
        except OSError as exc:
            out.append(Check(name, FAIL, _one_line(f"{folder} is not writable ({exc}); check "
                                                   "its owner and permissions")))
            continue
        free = shutil.disk_usage(folder).free
        if free < FREE_SPACE_WARN:
            out.append(Check(name, WARN, f"{folder} writable, only {free / 1024 ** 2:,.0f} MB "
                                         "free: make room before the archive fills the disk"))
        else:
            out.append(Check(name, OK, f"{folder} writable, {free / 1024 ** 3:,.1f} GB free"))
    return out


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)


def lines(checks: list[Check]) -> Iterator[str]:
    width = max((len(c.check) for c in checks), default=0)
    for c in checks:
        yield f"{c.status.upper():<4}  {c.check:<{width}}  {c.message}"


