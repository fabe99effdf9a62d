"""`reportjobs.build_recap` loads the recap month in full and the 11 months before it without
their cycles (they only feed counts and medians): the figures, charts, Word recap and .xlsx must
be exactly what one full load of the 12 months gave."""

from __future__ import annotations

import io
import statistics
import zipfile
from datetime import datetime
from typing import Any

import pytest
from appfixture import LocalApp
from reportdata_reference import populate

from mailproc import store
from mailproc.bootstrap import App, build_app
from mailproc.config import load_settings
from mailproc.domain import figures
from mailproc.reports import jobs as reportjobs
from mailproc.reports import output
from mailproc.store import reportdata

WIB_NOW = datetime(2026, 11, 2, 9, 0)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> App:
    local = LocalApp(tmp_path_factory.mktemp("recap"))
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    populate(900, seed=3)  # 2025-11 .. 2026-10
    now = WIB_NOW.replace(tzinfo=settings.timezone)
    return build_app(settings, clock=lambda: now)


def built(app: App, monkeypatch: pytest.MonkeyPatch, *, full: bool, month: tuple[int, int]
          ) -> tuple[Any, bytes, bytes, list[tuple[str, Any]]]:
    charts: list[tuple[str, Any]] = []
    real_chart = output.chart_png
    real_load = reportdata.load_records

    def chart(kind: str, data: Any, *, title: str) -> bytes:
        charts.append((kind, data))
        return real_chart(kind, data, title=title)

    def load(settings: Any, **kwargs: Any) -> Any:
        if full:
            kwargs.pop("with_cycles", None)
        return real_load(settings, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(output, "chart_png", chart)
        m.setattr(reportdata, "load_records", load)
        fig, docx, xlsx = reportjobs.build_recap(app, *month, app.clock())
    return fig, docx, xlsx, charts


def members(package: bytes) -> dict[str, bytes]:
    """A .docx / .xlsx by content, without what depends on the second it was written: the zip
    entries' times and the .xlsx's docProps/core.xml (openpyxl stamps the wall clock there)."""
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {name: z.read(name) for name in z.namelist() if name != "docProps/core.xml"}


@pytest.mark.parametrize("month", [(2026, 10), (2026, 3), (2027, 1)])
def test_same_recap_as_one_full_load(app: App, monkeypatch: pytest.MonkeyPatch,
                                     month: tuple[int, int]) -> None:
    light = built(app, monkeypatch, full=False, month=month)
    full = built(app, monkeypatch, full=True, month=month)
    assert light[0] == full[0]
    assert light[3] == full[3]
    assert members(light[2]) == members(full[2])  # the .xlsx
    assert members(light[1]) == members(full[1])  # the Word recap, charts included


def test_the_median_chart_is_per_month_over_the_year(app: App,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The 12 medians, each over the complaints received in that company-local month, as the
    recap computed them by filtering the year's records month by month."""
    fig, _, _, charts = built(app, monkeypatch, full=False, month=(2026, 10))
    start = reportjobs.month_bounds(app, 2025, 11)[0]
    end = reportjobs.month_bounds(app, 2026, 10)[1]
    records = reportdata.load_records(app.settings, received_from=start, received_to=end)
    expected = []
    for tag, _ in fig.per_month:
        lo, hi = reportjobs.month_bounds(app, int(tag[:4]), int(tag[5:]))
        median = figures.median_days_to_close(
            [r for r in records if lo <= r.received_at < hi], app.calendar)
        expected.append((tag, median))  # None (a gap) for a month with none closed
    assert dict(charts)["median"] == expected
    assert sum(1 for _, m in expected if m) >= 10  # the data has closed complaints throughout
    closed = [r for r in records if r.valid and r.closed_at is not None]
    assert statistics.median(app.calendar.working_days_between(r.received_at, r.closed_at)
                             for r in closed) > 0


def test_progress_counts_every_record_once(app: App) -> None:
    calls: list[tuple[int, int]] = []
    reportjobs.build_recap(app, 2026, 10, app.clock(), progress=lambda i, n: calls.append((i, n)))
    start = reportjobs.month_bounds(app, 2025, 11)[0]
    end = reportjobs.month_bounds(app, 2026, 10)[1]
    total = len(reportdata.load_records(app.settings, received_from=start, received_to=end))
    assert calls[-1] == (total, total)
    assert all(n == total for _, n in calls)
    assert [i for i, _ in calls] == sorted(i for i, _ in calls)
