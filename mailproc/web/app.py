"""The Flask application: sign-in, the pages (Dasbor, Register, Keluhan, Rekap) and the actions
of marketing administration, each a thin entry over what the CLI and the mail decisions call
(mailproc.ptpp.workflow, mailproc.store's read models, mailproc.reports).

Pages are server-rendered Jinja with autoescape: customer text is always shown as text. Every
POST carries the session's CSRF token; a viewer sees no action and any POST of theirs but
signing out is refused (403). One database connection per request (peewee's pattern for web
apps), opened here and closed after the response.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from mailproc.bootstrap import App
from mailproc.domain import states
from mailproc.errors import MailprocError, NotFound
from mailproc.store import webviews
from mailproc.web import auth

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
DASHBOARD_ROWS = 50  # per list; the register's "late only" filter shows them all
SOURCE = "web"
MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")
CHANNEL_LABELS = {"email": "Email", "langsung": "Langsung", "telepon": "Telepon",
                  "surat": "Surat", "whatsapp": "WhatsApp"}
SORT_LABELS = {"received": "Tanggal terima", "number": "No. PTPP", "status": "Status",
               "department": "Bagian", "customer": "Pelanggan"}
# The register columns the page shows (all of them go into the download).
SHOWN_COLUMNS = ("No", "No. PTPP", "Tanggal terima", "Pelanggan", "Saluran", "Produk",
                 "No. batch/lot", "Kategori", "Bagian / PIC", "Target selesai",
                 "Tanggal selesai", "Status")


class _SessionInterface(SecureCookieSessionInterface):
    """The cookie is Secure when `web.secure_cookies` says so or the request came over HTTPS
    (directly, or as the trusted proxy's X-Forwarded-Proto says)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


@dataclass(frozen=True)
class Filters:
    text: str
    status: str
    department: str
    category: str
    channel: str
    month: str  # 'YYYY-MM' or ''
    overdue: bool
    sort: str
    descending: bool
    page: int

    def args(self, **changes: Any) -> dict[str, str]:
        values = {"q": self.text, "status": self.status, "bagian": self.department,
                  "kategori": self.category, "saluran": self.channel, "bulan": self.month,
                  "terlambat": "1" if self.overdue else "", "urut": self.sort,
                  "arah": "naik" if not self.descending else "", "hal": str(self.page)}
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "hal" and v == "1")}


def _filters() -> Filters:
    a = request.args
    sort = a.get("urut", "received")
    try:
        page = max(1, int(a.get("hal", "1")))
    except ValueError:
        page = 1
    return Filters(text=a.get("q", "").strip()[:200], status=a.get("status", ""),
                   department=a.get("bagian", ""), category=a.get("kategori", ""),
                   channel=a.get("saluran", ""), month=a.get("bulan", ""),
                   overdue=a.get("terlambat", "") == "1",
                   sort=sort if sort in webviews.SORTS else "received",
                   descending=a.get("arah", "") != "naik", page=page)


def _month(value: str) -> tuple[int, int] | None:
    try:
        year, month = (int(x) for x in value.split("-"))
        date(year, month, 1)
    except (ValueError, TypeError):
        return None
    return year, month


def create_app(app: App, *, secret_key: str) -> Flask:
    """The web application over `app` (settings, clock, archive, mail). The database must be
    open (`store.open_database`): requests connect and close per thread."""
    from mailproc import store
    from mailproc.reports import jobs
    from mailproc.reports import output as reports
    from mailproc.store import readmodels, reportdata

    s = app.settings
    web = Flask("mailproc.web", root_path=str(HERE), template_folder="templates",
                static_folder="static")
    web.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="mailproc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=s.web.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    web.session_interface = _SessionInterface()
    if s.web.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        web.wsgi_app = ProxyFix(web.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore
    limiter = auth.SignInLimiter()
    web.extensions["mailproc.limiter"] = limiter
    tz = s.timezone
    deps = {key: dep.name for key, dep in s.departments.items()}
    targets = jobs.step_targets(app)
    cached: dict[str, Any] = {}
    cache_lock = threading.Lock()
    charts: dict[str, Any] = {}
    charts_lock = threading.Lock()

    def status_records(now: datetime) -> list[Any]:
        """The complaints open now or closed this month (what the dashboard and the late
        filter need), kept until the audit chain's head moves: every change to a complaint
        is an event, in this process or any other, so an unchanged head means unchanged
        records. Only the figures, which depend on the time, are worked out per request."""
        local_now = now.astimezone(tz)
        month_start = datetime(local_now.year, local_now.month, 1, tzinfo=tz)
        key = (store.chain_head(), month_start)
        with cache_lock:
            if cached.get("key") == key:
                return cached["records"]  # type: ignore[no-any-return]
        records = webviews.status_records(deps, closed_since=month_start)
        with cache_lock:
            cached.update(key=key, records=records)
        return records

    # ---- per request: connection, user, CSRF ------------------------------------------

    @web.before_request
    def _before() -> Response | None:
        g.opened = webviews.connect_for_request()
        g.user = None
        name = session.get("user")
        if name:
            g.user = webviews.user_by_name(name)
            if g.user is None:
                session.clear()  # the account was removed
        if "csrf" not in session:
            session["csrf"] = auth.new_csrf_token()
        if request.method == "POST" and not auth.csrf_ok(session.get("csrf"),
                                                         request.form.get("csrf_token")):
            abort(403, "Formulir kedaluwarsa atau tidak sah; muat ulang halaman dan coba lagi.")
        if request.endpoint in ("sign_in", "static") or request.endpoint is None:
            return None
        if g.user is None:
            return redirect(url_for("sign_in", next=request.full_path))
        if request.method == "POST" and request.endpoint != "sign_out" \
                and g.user.role != "admin":
            abort(403, "Akun Anda hanya dapat melihat.")
        return None

    @web.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        if g.get("opened"):
            webviews.close_after_request()

    @web.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'")
        if request.endpoint not in ("static", "chart"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @web.errorhandler(403)
    def _forbidden(exc: Any) -> tuple[str, int]:
        return render_template("error.html", title="Ditolak", message=exc.description), 403

    @web.errorhandler(404)
    def _not_found(exc: Any) -> tuple[str, int]:
        return render_template("error.html", title="Tidak ditemukan",
                               message="Halaman atau berkas tidak ditemukan."), 404

    @web.context_processor
    def _context() -> dict[str, Any]:
        return {"user": g.get("user"), "csrf_token": session.get("csrf", ""),
                "company": s.company.name, "status_labels": states.LABELS_ID}

    def local(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        return value.astimezone(tz).strftime(fmt) if value else "-"

    web.jinja_env.filters["local"] = local
    web.jinja_env.filters["localdate"] = lambda v: local(v, "%d/%m/%Y")
    web.jinja_env.filters["days"] = lambda v: f"{v:.1f}".replace(".", ",")
    web.jinja_env.filters["cell"] = lambda v: (
        "" if v is None else f"{v:%d/%m/%Y}" if isinstance(v, date)
        else f"{v:.1f}" if isinstance(v, float) else str(v))

    # ---- sign-in ------------------------------------------------------------------------

    @web.route("/masuk", methods=["GET", "POST"])
    def sign_in() -> Any:
        target = request.values.get("next", "")
        # Only a path of this site: not "//host" nor "/\\host" (browsers read both as a host).
        if not target.startswith("/") or target[1:2] in ("/", "\\"):
            target = url_for("dashboard")
        if request.method == "GET":
            return render_template("signin.html", title="Masuk", next=target, name="")
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        address = request.remote_addr or "-"
        if limiter.blocked(name, address):
            log.warning("web sign-in of %r from %s refused: too many failures", name, address)
            return render_template(
                "signin.html", title="Masuk", next=target, name=name,
                error="Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam 15 menit."
            ), 429
        found = webviews.user_by_name(name) if name else None
        if not auth.check_password(password, found.password_hash if found else None):
            limiter.failed(name, address)
            log.info("web sign-in of %r from %s failed", name, address)
            return render_template("signin.html", title="Masuk", next=target, name=name,
                                   error="Nama atau kata sandi salah."), 401
        limiter.succeeded(name, address)
        session.clear()  # a fresh session (and CSRF token) for the signed-in user
        session.permanent = True
        session["user"] = found.name  # type: ignore[union-attr]
        session["csrf"] = auth.new_csrf_token()
        log.info("web sign-in of %r from %s", name, address)
        return redirect(target)

    @web.post("/keluar")
    def sign_out() -> Any:
        session.clear()
        return redirect(url_for("sign_in"))

    # ---- Dasbor -------------------------------------------------------------------------

    @web.get("/")
    def dashboard() -> str:
        from mailproc.domain import figures

        now = app.clock()
        local_now = now.astimezone(tz)
        month_start = datetime(local_now.year, local_now.month, 1, tzinfo=tz)
        digest = figures.digest(status_records(now), now=now, since=month_start,
                                cal=app.calendar, targets=targets)
        return render_template(
            "dashboard.html", title="Dasbor", digest=digest, limit=DASHBOARD_ROWS,
            open_total=sum(n for _, n in digest.open_by_step),
            month=f"{MONTHS_ID[local_now.month - 1]} {local_now.year}",
            open_status={states.LABELS_ID[x]: x for x in states.STATUSES})

    def month_charts(now: datetime) -> list[tuple[str, bytes, str]]:
        """The recap's charts for the current month so far, made as the monthly recap makes
        them; drawn again at most once an hour (matplotlib takes seconds for all of them)."""
        from mailproc.domain import figures

        local_now = now.astimezone(tz)
        key = (local_now.date(), local_now.hour)
        with charts_lock:  # one drawing at a time; the other image requests wait for it
            if charts.get("key") != key:
                year, month = local_now.year, local_now.month
                start, end = jobs.month_bounds(app, year, month)
                back = year * 12 + month - 1 - 11
                year_ago = datetime(back // 12, back % 12 + 1, 1, tzinfo=tz)
                records = (
                    reportdata.load_records(s, received_to=year_ago, with_cycles=False,
                                            open_at=min(end, now))
                    + reportdata.load_records(s, received_from=year_ago, received_to=start,
                                              with_cycles=False)
                    + reportdata.load_records(s, received_from=start, received_to=end))
                fig = figures.recap(records, year=year, month=month, now=now,
                                    cal=app.calendar, targets=targets,
                                    data_from=reportdata.first_received_at())
                charts.update(key=key, charts=jobs.recap_charts(
                    fig, local_now.strftime("%d/%m/%Y")))
            return charts["charts"]  # type: ignore[no-any-return]

    @web.get("/grafik/<int:n>.png")
    def chart(n: int) -> Response:
        drawn = month_charts(app.clock())
        if not 0 <= n < len(drawn):
            abort(404)
        response = Response(drawn[n][1], mimetype="image/png")
        response.headers["Cache-Control"] = "private, max-age=600"
        return response

    @web.get("/grafik")
    def chart_page() -> str:
        now = app.clock().astimezone(tz)
        drawn = month_charts(app.clock())
        return render_template("charts.html", title="Grafik",
                               month=f"{MONTHS_ID[now.month - 1]} {now.year}",
                               charts=[(i, title, note) for i, (title, _, note)
                                       in enumerate(drawn)])

    # ---- Register -----------------------------------------------------------------------

    def register_query(f: Filters) -> webviews.RegisterQuery:
        start = end = None
        if (ym := _month(f.month)) is not None:
            start, end = jobs.month_bounds(app, *ym)
        numbers = None
        if f.overdue:
            from mailproc.domain import figures

            now = app.clock()
            overdue = figures.digest(status_records(now), now=now, since=now,
                                     cal=app.calendar, targets=targets).overdue
            numbers = tuple(sorted({i.number for i in overdue}))
        return webviews.RegisterQuery(
            text=f.text, status=f.status, department=f.department, category=f.category,
            channel=f.channel, received_from=start, received_to=end, numbers=numbers,
            sort=f.sort, descending=f.descending)

    def register_rows(numbers: list[str], first_no: int) -> list[Any]:
        from mailproc.domain import figures

        if not numbers:
            return []
        records = reportdata.load_records(s, numbers=numbers)
        by_number = {r.values[1]: r for r in figures.register_rows(records, app.calendar)}
        return [figures.RegisterRow((first_no + i, *by_number[n].values[1:]))
                for i, n in enumerate(numbers) if n in by_number]

    @web.get("/register")
    def register() -> Any:
        from mailproc.domain import figures

        f = _filters()
        q = register_query(f)
        fmt = request.args.get("unduh", "")
        if fmt in ("csv", "xlsx"):
            _, numbers = webviews.register_numbers(q)
            rows = register_rows(numbers, 1)
            columns = figures.REGISTER_COLUMNS
            if fmt == "csv":
                body = reports.register_csv(columns, [r.display() for r in rows])
                mime = "text/csv; charset=utf-8"
            else:
                body = reports.register_xlsx(columns, [r.values for r in rows],
                                             title="Daftar Induk Keluhan Pelanggan")
                mime = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            stamp = app.clock().astimezone(tz).strftime("%Y%m%d-%H%M")
            return _download(body, f"Register-Keluhan-{stamp}.{fmt}", mime)
        total, numbers = webviews.register_numbers(q, offset=(f.page - 1) * PAGE_SIZE,
                                                   limit=PAGE_SIZE)
        rows = register_rows(numbers, (f.page - 1) * PAGE_SIZE + 1)
        index = [figures.REGISTER_COLUMNS.index(c) for c in SHOWN_COLUMNS]
        pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
        return render_template(
            "register.html", title="Register", f=f, total=total, pages=pages,
            columns=SHOWN_COLUMNS, rows=[[r.values[i] for i in index] for r in rows],
            departments=s.departments, categories=s.routing.categories,
            channels=webviews.channels(), sorts=SORT_LABELS, channel_labels=CHANNEL_LABELS,
            link=lambda **kw: url_for("register") + "?" + urlencode(f.args(**kw)))

    # ---- Keluhan ------------------------------------------------------------------------

    @web.get("/keluhan")
    def complaint() -> Any:
        number = request.args.get("no", "")
        d = readmodels.complaint_detail(number) if number else None
        files = webviews.complaint_files(number) if d is not None else None
        if d is None or files is None:
            abort(404)
        cycles = {p.cycle: p for p in d.cycles}
        documents: dict[int, list[tuple[webviews.FileRow, bool]]] = {}
        for doc in files.documents:
            pdf = doc.archive_path.lower().endswith(".docx") and \
                app.archive.path(doc.archive_path[:-5] + ".pdf").exists()
            documents.setdefault(doc.cycle, []).append((doc, pdf))
        return render_template(
            "complaint.html", title=d.summary.number, d=d, c=d.summary, files=files,
            documents=documents, cycles=cycles, departments=s.departments,
            severity=states.SEVERITY_LABELS[states.Severity(d.summary.severity)],
            channel_labels=CHANNEL_LABELS, event_text=_event_text, event_labels=EVENT_LABELS,
            message_labels=MESSAGE_LABELS,
            category_labels={r.name: r.label for r in s.routing.categories})

    @web.get("/berkas")
    def archived_file() -> Response:
        number = request.args.get("no", "")
        kind = request.args.get("jenis", "")
        try:
            row_id = int(request.args.get("id", ""))
        except ValueError:
            abort(404)
        row = webviews.complaint_file(number, kind, row_id)
        if row is None:
            abort(404)
        rel = row.archive_path
        filename = row.filename
        if kind == "document" and request.args.get("pdf") == "1":
            if not rel.lower().endswith(".docx"):
                abort(404)
            rel, filename = rel[:-5] + ".pdf", filename.rsplit(".", 1)[0] + ".pdf"
        try:
            content = app.archive.read(rel)
        except (OSError, MailprocError):
            abort(404)
        mime = "message/rfc822" if kind == "message" else (
            mimetypes.guess_type(filename)[0] or "application/octet-stream")
        return _download(content, filename, mime)

    # ---- actions (admin) ----------------------------------------------------------------

    def act(number: str, what: str, run: Any) -> Response:
        try:
            run()
        except MailprocError as exc:
            message = getattr(exc, "id_message", "") or (
                "Keluhan tidak ditemukan." if isinstance(exc, NotFound) else str(exc))
            flash(f"Tidak dapat {what}: {message}", "error")
            return redirect(url_for("complaint", no=number))
        flash(f"Berhasil: {what}.", "ok")
        try:  # send what the step queued now, as the CLI does; `mailproc run` retries
            app.flush_outbox()
        except (MailprocError, OSError) as exc:
            log.warning("web: mail after %s on %s not sent yet: %s", what, number, exc)
            flash("Surat akan dikirim pada putaran berikutnya (server surat belum dapat "
                  "dihubungi).", "warn")
        return redirect(url_for("complaint", no=number))

    def required(field: str, label: str) -> str:
        value = request.form.get(field, "").strip()
        if not value:
            raise _Missing(f"{label} wajib diisi")
        return value

    @web.post("/keluhan/aksi/<action>")
    def complaint_action(action: str) -> Response:
        from mailproc import store
        from mailproc.ptpp import workflow

        number = request.form.get("no", "")
        actor = g.user.name
        try:
            if action == "tetapkan":
                department = required("department", "Bagian")
                note = request.form.get("note", "").strip()
                return act(number, "menetapkan bagian", lambda: workflow.assign(
                    app, number, department, actor=actor, source=SOURCE, note=note))
            if action == "verifikasi":
                effective = required("effective", "Hasil verifikasi") == "ya"
                note = required("note", "Catatan evaluasi")
                return act(number, "mencatat verifikasi", lambda: workflow.verify(
                    app, number, effective=effective, note=note, actor=actor, source=SOURCE))
            # One field each, passed by its name to the CLI's own use case.
            one_field = {
                "tolak": ("reason", "Alasan", "menolak keluhan", workflow.reject),
                "catatan": ("text", "Catatan", "menambah catatan", workflow.add_note),
                "tanggapan": ("text", "Tanggapan", "mencatat tanggapan",
                              workflow.record_response),
            }
            if action in one_field:
                field, label, what, use_case = one_field[action]
                value = required(field, label)
                return act(number, what, lambda: use_case(
                    app, number, **{field: value}, actor=actor, source=SOURCE))
            if action == "tanya":
                question = required("question", "Pertanyaan")

                def ask() -> None:
                    # As a mail decision runs it: inside one transaction (mail + event).
                    with store.transaction():
                        workflow.ask_customer(app, workflow.load(number), question=question,
                                              actor=actor, source=SOURCE)
                return act(number, "mengirim pertanyaan ke pelanggan", ask)
        except _Missing as exc:
            flash(f"{exc}.", "error")
            return redirect(url_for("complaint", no=number))
        abort(404)

    # ---- Rekap --------------------------------------------------------------------------

    @web.get("/rekap")
    def recap() -> Any:
        now = app.clock().astimezone(tz)
        ym = _month(request.args.get("bulan", ""))
        if ym is None:
            default = jobs.previous_month(app.clock(), tz)
            return render_template("recap.html", title="Rekap",
                                   month=f"{default[0]:04d}-{default[1]:02d}",
                                   latest=f"{now.year:04d}-{now.month:02d}")
        kind = request.args.get("jenis", "docx")
        _, docx, xlsx = jobs.build_recap(app, ym[0], ym[1], app.clock())
        tag = f"{ym[0]:04d}-{ym[1]:02d}"
        if kind == "xlsx":
            return _download(xlsx, f"Register-Keluhan-{tag}.xlsx", "application/vnd."
                             "openxmlformats-officedocument.spreadsheetml.sheet")
        return _download(docx, f"Rekapitulasi-Keluhan-{tag}.docx", "application/vnd."
                         "openxmlformats-officedocument.wordprocessingml.document")

    return web


class _Missing(Exception):
    """A required field of an action form was left empty."""


def _download(content: bytes, filename: str, mime: str) -> Response:
    response = Response(content, mimetype=mime)
    # RFC 6266 with an ASCII fallback: file names of documents may hold any character.
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    from urllib.parse import quote

    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}")
    return response


# The timeline's words for the events people look for; others show their kind as stored.
EVENT_LABELS = {
    "mail_received": "Surat masuk", "mail_queued": "Surat disiapkan", "mail_sent": "Surat terkirim",
    "mail_failed": "Surat gagal dikirim", "mail_bounced": "Surat ditolak server",
    "complaint_registered": "Keluhan dicatat", "department_assigned": "Bagian ditetapkan",
    "department_involved": "Bagian lain dilibatkan", "ptpp_issued": "PTPP diterbitkan",
    "ptpp_withdrawn": "PTPP ditarik", "ptpp_planned": "Analisis & rencana diterima",
    "ptpp_implemented": "Tindakan selesai", "ptpp_verified": "Verifikasi efektivitas",
    "cycle_started": "Siklus baru", "complaint_closed": "Keluhan ditutup",
    "complaint_rejected": "Keluhan ditolak", "response_recorded": "Tanggapan dicatat",
    "note": "Catatan", "customer_asked": "Pertanyaan ke pelanggan",
    "satisfaction_rated": "Penilaian pelanggan", "severity_set": "Kategori PTPP diubah",
    "files_archived": "Berkas diarsipkan", "form_refused": "Formulir ditolak",
}

# What a message is, in the list of messages in and out (others: their kind as stored).
MESSAGE_LABELS = {
    "complaint": "Keluhan", "follow_up": "Susulan", "staff_message": "Dari bagian",
    "ack": "Tanda terima", "ptpp_issue": "Formulir PTPP", "ptpp_withdrawn": "PTPP ditarik",
    "ptpp_involved": "Keterlibatan bagian", "return_form": "Formulir retur",
    "form_problem": "Formulir belum lengkap", "form_accepted": "Formulir diterima",
    "decision_reply": "Jawaban keputusan", "notice_new": "Pemberitahuan keluhan baru",
    "notice_plan": "Analisis & rencana", "analysis_to_customer": "Analisis ke pelanggan",
    "notice_implemented": "Menunggu verifikasi", "closing_customer": "Penutupan ke pelanggan",
    "closure_report": "Laporan penutupan", "question_customer": "Pertanyaan ke pelanggan",
    "reminder": "Pengingat", "bounce": "Surat ditolak server",
}

_EVENT_FIELDS = ("department", "note", "text", "reason", "question", "result", "number",
                 "filename", "effective", "verifier", "rating", "to", "subject")


def _event_text(data: Any) -> str:
    """A short line of what an event says (its common fields), for the timeline."""
    if not isinstance(data, dict):
        return ""
    parts = []
    for key in _EVENT_FIELDS:
        value = data.get(key)
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key}: {str(value)[:200]}")
    return "; ".join(parts)
