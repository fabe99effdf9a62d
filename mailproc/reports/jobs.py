"""Reports for marketing (procedure step 11): the closure report of each PTPP, the status
digest, the monthly recap and the master register export. Records come from `reportdata`,
figures from the pure `domain.figures`, documents from `reports`; mail through the outbox."""

from __future__ import annotations

import calendar as stdlib_calendar
import hashlib
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from mailproc import store
from mailproc.bootstrap import App
from mailproc.domain import figures, satisfaction
from mailproc.domain.records import ComplaintRecord
from mailproc.outgoing.outbox import queue_mail
from mailproc.outgoing.texts import format_date_id, format_datetime_id, format_day_id
from mailproc.store import monitoring, reportdata

log = logging.getLogger(__name__)

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} hari kerja".replace(".", ",")


def _doc(app: App, key: str) -> dict[str, str]:
    form = app.settings.forms[key]
    return {"number": form.number, "revision": form.revision,
            "revision_date": form.revision_date}


# ---- closure report ----------------------------------------------------------------------

def closure_context(app: App, record: ComplaintRecord) -> dict[str, Any]:
    s = app.settings
    tz = s.timezone
    cal = app.calendar
    lead = figures.lead_times(record, cal)
    result_label = {"effective": "Efektif", "not_effective": "Tidak efektif"}
    return {
        "company": app.company_context(),
        "doc": _doc(app, "closure"),
        "complaint": {
            "number": record.number, "received": format_datetime_id(record.received_at, tz),
            "customer": record.customer, "channel": record.channel, "product": record.product,
            "batch": record.batch, "quantity": record.quantity,
            "category": record.category or "Belum terklasifikasi",
            "department": record.department, "description": record.description.strip(),
            "subject": record.subject,
            "satisfaction": satisfaction.label(record.satisfaction),
        },
        "ptpp_number": record.number,
        "date": format_date_id(app.clock(), tz, "-"),
        "closing_date": format_date_id(record.closed_at, tz, "-"),
        "prepared_by": s.issuer,
        "cycles": [{
            "number": c.cycle, "department": c.department, "root_cause": c.root_cause,
            "whys": list(c.whys), "category_6m": c.category_6m, "correction": c.correction,
            "actions": [{"no": a.no, "cause": a.cause, "corrective": a.corrective,
                         "preventive": a.preventive, "pic": a.pic,
                         "target": format_date_id(a.target, tz, "-")} for a in c.actions],
            "completion_date": format_date_id(c.completion_date, tz, "-"),
            "completion_evidence": c.completion_evidence,
            "result": result_label.get(c.verification_result, "-"),
            "note": c.verification_note, "verifier": c.verifier,
            "verification_date": format_date_id(c.verified_at, tz, "-"),
            "documents_revised": c.documents_revised or "-",
            "correction_date": format_date_id(c.correction_date, tz, "-"),
            "correction_by": c.correction_by or "-",
        } for c in record.cycles],
        "lead": {"first_response": _days(lead.first_response), "analysis": _days(lead.analysis),
                 "closing": _days(lead.closing)},
        "closed": format_date_id(record.closed_at, tz, "-"),
    }


def render_closure(app: App, number: str,
                   record: ComplaintRecord | None = None) -> tuple[str, bytes]:
    """The closure report of `number`, from its stored record or from `record` (the record as
    it will read once closed: `domain.records.closed_effective`)."""
    from mailproc.reports import output as reports  # heavy (docx, charts): only when writing

    if record is None:
        [record] = reportdata.load_records(app.settings, numbers=[number])
    content = reports.render_closure(app.settings.forms["closure"].template,
                                     closure_context(app, record))
    slug = app.settings.numbering.slug(number)
    return f"Laporan-Penutupan-{slug}.docx", content


# ---- status digest -----------------------------------------------------------------------

def build_digest(app: App, now: datetime) -> tuple[figures.Digest, dict[str, Any]]:
    records = [r for r in reportdata.load_records(app.settings) if r.valid]
    since = monitoring.last_event_at("digest_sent")
    digest = figures.digest(records, now=now, since=since, cal=app.calendar,
                            targets=step_targets(app))
    tz = app.settings.timezone

    def item(i: figures.DigestItem) -> dict[str, Any]:
        return {"number": i.number, "customer": i.customer, "department": i.department or "-",
                "status": i.status_label, "what": i.what,
                "due": format_datetime_id(i.due, tz) if i.due else "-",
                "late": _days(i.days_late) if i.days_late else ""}

    context = {
        "date": format_day_id(now, tz),
        "company_name": app.settings.company.name,
        "open_by_step": digest.open_by_step,
        "open_total": sum(n for _, n in digest.open_by_step),
        "overdue": [item(i) for i in digest.overdue],
        "due_soon": [item(i) for i in digest.due_soon],
        "closed_since": [item(i) for i in digest.closed_since],
        "since": format_datetime_id(since, tz) if since else "",
        # The chain's head, kept by everyone who keeps the mail: an anchor outside the
        # database for `audit verify --anchor`.
        "chain_head": store.chain_head(),
    }
    return digest, context


def send_digest(app: App, now: datetime) -> bool:
    """The status digest to marketing administration and sales & marketing; working days
    only."""
    if not app.calendar.is_working_day(now.astimezone(app.settings.timezone).date()):
        return False
    s = app.settings
    _, context = build_digest(app, now)
    texts = app.texts.render("digest", **context)
    html = app.texts.render_html("digest", **context)
    with store.transaction():
        queue_mail(settings=s, now=now, kind="digest", to=s.marketing_admin + s.sales_marketing,
                   subject=texts.subject, body=texts.body, html=html, complaint=None,
                   source="digest")
        store.append_event(complaint=None, at=now, actor="mailproc", source="digest",
                           kind="digest_sent", data={"open": context["open_total"],
                                                     "overdue": len(context["overdue"])})
    return True


# ---- monthly recap -----------------------------------------------------------------------

def month_bounds(app: App, year: int, month: int) -> tuple[datetime, datetime]:
    tz = app.settings.timezone
    start = datetime(year, month, 1, tzinfo=tz)
    last = stdlib_calendar.monthrange(year, month)[1]
    return start, datetime(year, month, last, tzinfo=tz) + timedelta(days=1)


def step_targets(app: App) -> figures.StepTargets:
    """The procedure's clocks from the settings (`sla.*_working_days`)."""
    c = app.settings.calendar
    return figures.StepTargets(first_response=c.first_response_days, triage=c.triage_days,
                               plan=c.plan_days, verify=c.verify_days)


# Under the trend charts: a gap is not a zero.
_GAP_NOTE = ("\u2013 : tidak ada data (sebelum keluhan pertama tercatat di sistem atau bulan "
             "yang belum berjalan); 0 berarti tidak ada keluhan pada bulan itu.")


def build_recap(app: App, year: int, month: int, now: datetime,
                progress: Callable[[int, int], None] | None = None
                ) -> tuple[figures.RecapFigures, bytes, bytes]:
    """(figures, the Word recap, the .xlsx of the month's register rows)."""
    from mailproc.reports import output as reports  # see render_closure

    cal = app.calendar
    start, end = month_bounds(app, year, month)
    year_ago = month_bounds(app, *(_shift(year, month, -11)))[0]
    # The month in full; the 11 months before only feed counts and medians (received, status,
    # closed), so their cycles are neither read nor parsed; before those, only what was still
    # open at the month's end (its age counts).
    in_month = reportdata.load_records(app.settings, received_from=start, received_to=end)
    done = len(in_month)
    before = reportdata.load_records(
        app.settings, received_from=year_ago, received_to=start, with_cycles=False,
        progress=None if progress is None else lambda i, n: progress(done + i, done + n))
    if progress is not None and not before:
        progress(done, done)
    older_open = reportdata.load_records(app.settings, received_to=year_ago,
                                         with_cycles=False, open_at=min(end, now))
    records = older_open + before + in_month  # oldest first, as one load would give them
    fig = figures.recap(records, year=year, month=month, now=now, cal=cal,
                        targets=step_targets(app), data_from=reportdata.first_received_at())
    rows = figures.register_rows(in_month, cal)
    context = recap_context(app, fig, rows, year=year, month=month, now=now)
    docx = reports.render_recap(app.settings.forms["recap"].template, context,
                                recap_charts(fig, context["review"]["as_of"]))
    xlsx = reports.register_xlsx(figures.REGISTER_COLUMNS, [r.values for r in rows],
                                 title=f"Rekapitulasi {context['period']}")
    return fig, docx, xlsx


def recap_charts(fig: figures.RecapFigures, as_of: str) -> list[tuple[str, bytes, str]]:
    """The recap's charts, two to a page: (title, PNG, note)."""
    from mailproc.reports import output as reports  # see render_closure

    def chart(kind: str, data: Any) -> bytes:
        return reports.chart_png(kind, data, title="")

    def pareto(rows: list[tuple[str, int, float]], what: str) -> tuple[bytes, str]:
        top = figures.pareto_top(rows)
        note = f"Keluhan valid periode ini per {what}; garis merah: persentase kumulatif."
        if len(top) < len(rows):
            note += (f" Ditampilkan {len(top) - 1} terbanyak; sisanya digabung sebagai "
                     "\u201cLainnya\u201d.")
        return chart("pareto", top), note

    on_target = fig.on_target
    return [
        ("Jumlah keluhan per bulan (12 bulan)", chart("per_month", fig.per_month), _GAP_NOTE),
        ("Median lama penyelesaian per bulan (hari kerja)",
         chart("median", fig.per_month_median),
         "Keluhan yang diterima pada bulan itu dan sudah ditutup; \u2013 : belum ada yang "
         "ditutup atau tidak ada data."),
        ("Pareto keluhan per kategori", *pareto(fig.by_category, "kategori")),
        ("Pareto keluhan per produk", *pareto(fig.by_product, "produk")),
        ("Pareto keluhan per pelanggan", *pareto(fig.by_customer, "pelanggan")),
        (f"Keluhan terbuka menurut umur per {as_of}", chart("age", fig.open_by_age),
         "Semua keluhan yang masih terbuka, dari periode mana pun; umur dalam hari kerja "
         "sejak keluhan diterima."),
        ("Ketepatan waktu per tahap", chart("steps", [
            (s.label, s.pct, s.on_time, s.judged) for s in fig.steps]),
         "Persentase tahap yang selesai dalam target (batang oranye: di bawah 80%); "
         "rinciannya pada tabel B."),
        ("Keluhan ditutup sesuai target", chart(
            "on_target", (on_target[0], on_target[1] - on_target[0])),
         "Keluhan periode ini yang sudah ditutup dan memiliki tanggal target tindakan."),
    ]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}".replace(".", ",")


def recap_context(app: App, fig: figures.RecapFigures, rows: list[figures.RegisterRow], *,
                  year: int, month: int, now: datetime) -> dict[str, Any]:
    """The recap template's context (reports.output's docstring) from the month's figures."""
    tz = app.settings.timezone
    on_target = fig.on_target[2]
    # The open complaints are counted at the month's end (the first moment of the next
    # month): the day shown is the month's last.
    as_of = format_date_id(fig.open_at - timedelta(microseconds=1), tz)
    return {
        "company": app.company_context(),
        "doc": _doc(app, "recap"),
        "period": f"{MONTHS_ID[month - 1]} {year}",
        "summary": {
            "total": fig.total, "valid": fig.valid, "closed": fig.closed, "open": fig.open,
            "on_target_pct": _pct(on_target),
            "median_days": _days(fig.median_close_days),
            "by_severity": " / ".join(str(n) for n in fig.by_severity),
            "satisfaction": _satisfaction(fig.satisfaction),
            "repeats": len(fig.repeats),
            "open_total": sum(n for _, n in fig.open_by_age),
        },
        "review": {
            "as_of": as_of,
            "steps": [{"label": s.label, "span": s.span, "target": s.target,
                       "done": s.done, "median": _number(s.median),
                       "on_time": f"{s.on_time}/{s.judged}" if s.judged else "-",
                       "pct": _pct(s.pct), "late_open": s.late_open} for s in fig.steps],
            "ages": [n for _, n in fig.open_by_age],
            "repeats": [{"number": r.number, "received": f"{r.received:%d/%m/%Y}",
                         "customer": r.customer, "product": "\n".join(
                             p for p in (r.product, r.batch) if p),
                         "category": r.category, "repeat_of": r.repeat_of,
                         "status": r.status} for r in fig.repeats],
        },
        "generated": format_date_id(now, tz),
        "prepared_by": app.settings.issuer,
        "rows": [_register_line(r) for r in rows],
        "columns": list(figures.REGISTER_COLUMNS),
    }


def _register_line(row: figures.RegisterRow) -> list[str]:
    """A register row as the recap prints it: working days with a decimal comma ('2,5')
    like every other number in the document."""
    return [_number(v) if isinstance(v, float) else text
            for v, text in zip(row.values, row.display(), strict=True)]


def _satisfaction(summary: satisfaction.Summary) -> str:
    """'4,2 (n = 5)': the average rating with a decimal comma; '-' when nobody rated."""
    if summary.average is None:
        return "-"
    return f"{summary.average:.1f}".replace(".", ",") + f" (n = {summary.count})"


def _shift(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def previous_month(now: datetime, tz: Any) -> tuple[int, int]:
    local = now.astimezone(tz)
    return _shift(local.year, local.month, -1)


def send_recap(app: App, year: int, month: int, now: datetime) -> str:
    """Archive the recap and its .xlsx and mail them to sales & marketing."""
    s = app.settings
    fig, docx, xlsx = build_recap(app, year, month, now)
    tag = f"{year:04d}-{month:02d}"
    when = datetime(year, month, 1, tzinfo=s.timezone)
    docx_rel = app.archive.store_document(when, "_rekap", f"Rekapitulasi-Keluhan-{tag}.docx", docx)
    xlsx_rel = app.archive.store_document(when, "_rekap", f"Register-Keluhan-{tag}.xlsx", xlsx)
    texts = app.texts.render("recap", period=f"{MONTHS_ID[month - 1]} {year}",
                             company_name=s.company.name, total=fig.total, closed=fig.closed,
                             open=fig.open, median=_days(fig.median_close_days),
                             on_target="-" if fig.on_target[2] is None
                             else f"{fig.on_target[2]:.0f}%", chain_head=store.chain_head(),
                             by_severity=" / ".join(str(n) for n in fig.by_severity),
                             satisfaction=_satisfaction(fig.satisfaction),
                             satisfaction_spread=" · ".join(
                                 f"{v}: {n}" for v, n in
                                 zip(range(1, 6), fig.satisfaction.distribution, strict=True)),
                             repeats=len(fig.repeats),
                             open_total=sum(n for _, n in fig.open_by_age),
                             open_at=format_day_id(fig.open_at - timedelta(microseconds=1),
                                                    s.timezone))
    with store.transaction():
        store.record_files(None, [(rel, hashlib.sha256(content).hexdigest(), len(content))
                                  for rel, content in ((docx_rel, docx), (xlsx_rel, xlsx))],
                           at=now, actor="mailproc", source="recap", period=tag)
        queue_mail(settings=s, now=now, kind="recap", to=s.sales_marketing,
                   cc=s.marketing_admin, subject=texts.subject, body=texts.body,
                   attachments=[docx_rel, xlsx_rel], complaint=None, source="recap")
        store.append_event(complaint=None, at=now, actor="mailproc", source="recap",
                           kind="recap_sent", data={"month": tag, "total": fig.total})
    return tag


def recap_due(app: App, now: datetime) -> tuple[int, int] | None:
    """On the first working day of a month, the month before, unless already sent."""
    cal = app.calendar
    local = now.astimezone(app.settings.timezone).date()
    first = local.replace(day=1)
    first_working = first if cal.is_working_day(first) else cal.next_working_day(first)
    if local < first_working:
        return None
    year, month = previous_month(now, app.settings.timezone)
    tag = f"{year:04d}-{month:02d}"
    return None if monitoring.recap_sent_for(tag) else (year, month)


# ---- master register ----------------------------------------------------------------------

def export_register(app: App, fmt: str, *, received_from: date | None, received_to: date | None,
                    progress: Callable[[int, int], None] | None = None) -> bytes:
    from mailproc.reports import output as reports  # see render_closure

    tz = app.settings.timezone
    start = datetime(received_from.year, received_from.month, received_from.day,
                     tzinfo=tz) if received_from else None
    end = (datetime(received_to.year, received_to.month, received_to.day, tzinfo=tz)
           + timedelta(days=1)) if received_to else None
    records = reportdata.load_records(app.settings, received_from=start, received_to=end)
    rows = figures.register_rows(records, app.calendar)
    if fmt == "csv":
        return reports.register_csv(figures.REGISTER_COLUMNS, [r.display() for r in rows])
    return reports.register_xlsx(figures.REGISTER_COLUMNS, [r.values for r in rows],
                                 title="Daftar Induk Keluhan Pelanggan", progress=progress)
