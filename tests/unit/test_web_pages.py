"""The web page (mailproc/web) through Flask's test client, on a local installation (Maildirs,
SQLite): sign-in, CSRF, the viewer role, the pages, downloads found by their row, and the
actions, each calling the same workflow step as the CLI (recorded with the signed-in user,
source "web"). The real browser and mail servers: tests/integration/test_web_browser.py."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from appfixture import LocalApp
from flask import Flask
from flask.testing import FlaskClient

from mailproc import store
from mailproc.bootstrap import build_app
from mailproc.config import load_settings
from mailproc.web import auth, server
from mailproc.web.app import create_app

PASSWORD = "rahasia-panjang-1"
SCRIPT = "<script>alert('x')</script>"


@dataclass
class Site:
    local: LocalApp
    web: Flask
    issued: str  # routed to QC and issued at registration
    triage: str  # no department: waiting in triage

    def client(self, name: str | None = "rina") -> FlaskClient:
        client = self.web.test_client()
        if name is not None:
            response = sign_in(client, name, PASSWORD)
            assert response.status_code == 302, response.text
        return client


def token(client: FlaskClient, path: str = "/masuk") -> str:
    page = client.get(path).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: FlaskClient, name: str, password: str, address: str = "127.0.0.1"):
    return client.post("/masuk", data={"csrf_token": token(client), "name": name,
                                       "password": password, "next": "/"},
                       environ_base={"REMOTE_ADDR": address})


def add(local: LocalApp, *args: str) -> str:
    result = local.run("complaints", "add", "--by", "test", *args)
    assert result.exit_code == 0, result.output
    return re.search(r"registered (\S+)", result.output).group(1)  # type: ignore[union-attr]


def make_site(root: Path, **web_settings: object) -> Site:
    local = LocalApp(root)
    for name, role in (("rina", "admin"), ("vera", "viewer")):
        result = local.run("users", "add", name, "--role", role,
                           env={"MAILPROC_USER_PASSWORD": PASSWORD})
        assert result.exit_code == 0, result.output
    issued = add(local, "--channel", "telepon", "--customer", f"CV Maju {SCRIPT}",
                 "--description", f"Botol bocor {SCRIPT} batch B-7781", "--email",
                 "budi@maju.example.com")
    triage = add(local, "--channel", "langsung", "--customer", "PT Sentosa",
                 "--description", "Mohon dihubungi soal pesanan", "--email",
                 "ani@sentosa.example.com")
    settings = load_settings(local.config)
    settings = replace(settings, web=replace(settings.web, **web_settings))  # type: ignore
    store.open_database(settings.database_url)
    web = create_app(build_app(settings, clock=local.clock), secret_key="k" * 40)
    return Site(local, web, issued, triage)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def show(site: Site, number: str) -> dict:
    return site.local.json("complaints", "show", number)


# ---- sign-in, session, CSRF ---------------------------------------------------------------

def test_every_page_asks_to_sign_in_first(site: Site):
    client = site.web.test_client()
    for path in ("/", "/register", f"/keluhan?no={site.issued}", "/rekap",
                 "/berkas?no=x&jenis=document&id=1"):
        response = client.get(path)
        assert response.status_code == 302 and "/masuk" in response.headers["Location"]


def test_sign_in_sets_a_hardened_cookie_and_a_wrong_password_is_refused(site: Site):
    client = site.web.test_client()
    wrong = sign_in(client, "rina", "salah-sekali-ya")
    assert wrong.status_code == 401 and "Nama atau kata sandi salah" in wrong.text
    unknown = sign_in(client, "siapa", PASSWORD)
    assert unknown.status_code == 401
    ok = sign_in(client, "rina", PASSWORD)
    assert ok.status_code == 302
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "rina (admin)" in page.text
    assert "Content-Security-Policy" in page.headers
    assert page.headers["X-Frame-Options"] == "DENY"
    client.post("/keluar", data={"csrf_token": token(client, "/")})
    assert client.get("/").status_code == 302


def test_an_open_redirect_after_sign_in_is_not_followed(site: Site):
    for target, where in (("//evil.example.com/", "/"), ("/\\evil.example.com", "/"),
                          ("https://evil.example.com/", "/"), ("/register?q=a", "/register?q=a")):
        client = site.web.test_client()
        response = client.post("/masuk", data={"csrf_token": token(client), "name": "rina",
                                               "password": PASSWORD, "next": target})
        assert response.headers["Location"] == where, target


def test_sign_in_is_rate_limited_per_name_and_address(site: Site):
    client = site.web.test_client()
    for _ in range(5):
        assert sign_in(client, "rina", "tebakan-salah-1").status_code == 401
    blocked = sign_in(client, "rina", PASSWORD)
    assert blocked.status_code == 429 and "Terlalu banyak percobaan" in blocked.text
    # Another address, or another name, is not blocked by these failures.
    assert sign_in(site.web.test_client(), "rina", PASSWORD,
                   address="10.0.0.9").status_code == 302
    assert sign_in(site.web.test_client(), "vera", PASSWORD).status_code == 302


def test_the_limiter_forgets_after_its_window():
    now = [1000.0]
    limiter = auth.SignInLimiter(limit=2, window=60, clock=lambda: now[0])
    limiter.failed("Rina", "1.2.3.4")
    limiter.failed("rina", "1.2.3.4")
    assert limiter.blocked("RINA", "1.2.3.4")
    now[0] += 61
    assert not limiter.blocked("rina", "1.2.3.4")


def test_a_post_without_the_csrf_token_is_refused(site: Site):
    client = site.client()
    for data in ({}, {"csrf_token": "palsu"}):
        response = client.post("/keluhan/aksi/catatan",
                               data={"no": site.issued, "text": "lewat situs lain", **data})
        assert response.status_code == 403
        assert "Formulir kedaluwarsa atau tidak sah" in response.text
    assert not [e for e in show(site, site.issued)["events"] if e["kind"] == "note"]
    # Signing in needs it too (a login CSRF).
    fresh = site.web.test_client()
    assert fresh.post("/masuk", data={"name": "rina", "password": PASSWORD}).status_code == 403


def test_cookies_are_secure_when_configured_or_behind_a_tls_proxy(tmp_path: Path):
    site = make_site(tmp_path / "a", secure_cookies=True)
    response = sign_in(site.web.test_client(), "rina", PASSWORD)
    assert "Secure" in response.headers["Set-Cookie"]

    proxied = make_site(tmp_path / "b", behind_proxy=True)
    client = proxied.web.test_client()
    over_tls = client.post("/masuk", data={"csrf_token": token(client), "name": "rina",
                                           "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in over_tls.headers["Set-Cookie"]
    plain = sign_in(proxied.web.test_client(), "rina", PASSWORD)
    assert "Secure" not in plain.headers["Set-Cookie"]


# ---- the viewer ---------------------------------------------------------------------------

def test_a_viewer_sees_no_action_and_cannot_post_one(site: Site):
    client = site.client("vera")
    page = client.get(f"/keluhan?no={site.triage}")
    assert page.status_code == 200 and "vera (hanya lihat)" in page.text
    assert 'id="aksi"' not in page.text and "/keluhan/aksi/" not in page.text
    refused = client.post("/keluhan/aksi/tetapkan",
                          data={"csrf_token": token(client, "/"), "no": site.triage,
                                "department": "qc"})
    assert refused.status_code == 403 and "hanya dapat melihat" in refused.text
    assert show(site, site.triage)["status"] == "triage"
    # Signing out is the one POST a viewer makes.
    assert client.post("/keluar", data={"csrf_token": token(client, "/")}).status_code == 302


# ---- pages --------------------------------------------------------------------------------

def test_customer_text_is_shown_as_text(site: Site):
    client = site.client()
    for path in (f"/keluhan?no={site.issued}", "/register"):
        page = client.get(path).text
        assert SCRIPT not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_the_dashboard_counts_open_ptpps_by_step(site: Site):
    page = site.client().get("/").text
    cards = dict(re.findall(r'<span class="n">(\d+)</span><span class="l">([^<]+)</span>',
                            page))
    assert cards["1"] in ("Menunggu penentuan bagian", "PTPP diterbitkan")
    assert re.search(r'<span class="n">2</span><span class="l">PTPP terbuka', page)
    assert "Jatuh tempo dalam 2 hari kerja" in page and "Ditutup bulan ini" in page


def test_the_dashboard_lists_the_late_first_with_how_late(site: Site):
    site.local.clock.advance(5 * 24 * 3600)  # past the first-response and plan dues
    page = site.client().get("/").text
    late = page.split('id="terlambat"')[1].split("</table>")[0]
    assert site.issued in late  # its analysis and plan are late
    assert re.search(r"\d+,\d hari kerja", late)


def test_the_register_searches_filters_sorts_and_pages(site: Site):
    client = site.client()

    def numbers(query: str) -> list[str]:
        page = client.get("/register" + query).text
        return re.findall(r'<td><a href="/keluhan\?no=([^"]+)">', page)

    assert numbers("") == [site.triage, site.issued]  # newest first
    assert numbers("?arah=naik") == [site.issued, site.triage]
    assert numbers("?q=B-7781") == [site.issued]
    assert numbers("?q=sentosa") == [site.triage]
    assert numbers("?q=maju+bocor") == [site.issued]
    assert numbers("?status=triage") == [site.triage]
    assert numbers("?status=open") == [site.triage, site.issued]
    assert numbers("?bagian=qc") == [site.issued]
    assert numbers("?saluran=langsung") == [site.triage]
    month = site.local.clock().astimezone(load_settings(site.local.config).timezone)
    assert len(numbers(f"?bulan={month:%Y-%m}")) == 2
    assert numbers("?bulan=1999-01") == []
    assert numbers("?terlambat=1") == []
    site.local.clock.advance(5 * 24 * 3600)
    late = numbers("?terlambat=1")  # as the digest counts late (figures.digest)
    assert site.issued in late and set(late) <= {site.issued, site.triage}

    for _ in range(55):
        add(site.local, "--channel", "surat", "--customer", "PT Banyak",
            "--description", "Kemasan penyok saat diterima")
    first = client.get("/register").text
    assert "Halaman 1 dari 2" in first and 'rel="next"' in first
    second = numbers("?hal=2")
    assert len(second) == 7 and second[-1] == site.issued
    assert '<td>51</td>' in client.get("/register?hal=2").text  # numbered across pages


def test_the_register_download_is_what_is_shown(site: Site):
    client = site.client()
    response = client.get("/register?q=sentosa&unduh=csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["No", "No. PTPP", "Tanggal terima"]
    assert [r[1] for r in rows[1:]] == [site.triage]

    everything = client.get("/register?unduh=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(everything.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    numbers = [row[1] for row in values if row[1] in (site.issued, site.triage)]
    assert numbers == [site.triage, site.issued]


def test_the_complaint_page_and_its_files_found_by_their_row(site: Site):
    client = site.client()
    page = client.get(f"/keluhan?no={site.issued}").text
    assert "PTPP diterbitkan" in page and "B-7781" in page and "Siklus 1" in page
    assert "Keluhan dicatat" in page and "Formulir PTPP" in page  # timeline, messages
    links = re.findall(r'href="(/berkas\?[^"]+)"', page)
    docs = [link for link in links if "jenis=document" in link]
    assert docs, page
    form = client.get(docs[0].replace("&amp;", "&"))
    assert form.status_code == 200 and form.data[:2] == b"PK"
    assert ".docx" in form.headers["Content-Disposition"]
    # A row of another complaint, an unknown kind or a path: not found.
    doc_id = re.search(r"id=(\d+)", docs[0]).group(1)  # type: ignore[union-attr]
    assert client.get(f"/berkas?no={site.triage}&jenis=document&id={doc_id}").status_code \
        == 404
    assert client.get(f"/berkas?no={site.issued}&jenis=../../etc&id={doc_id}").status_code \
        == 404
    assert client.get(f"/berkas?no={site.issued}&jenis=document&id=../x").status_code == 404
    assert client.get("/keluhan?no=999/PTPP/MKT/I/2000").status_code == 404


def test_the_archived_mail_opens_as_eml(site: Site):
    from appfixture import REPO

    site.local.deliver((REPO / "examples" / "inbox" / "01-botol-retak.eml").read_bytes())
    [number] = site.local.poll()["registered"]
    client = site.client()
    page = client.get(f"/keluhan?no={number}").text
    [mail] = re.findall(r'href="(/berkas\?[^"]+jenis=message[^"]+)"', page)
    eml = client.get(mail.replace("&amp;", "&"))
    assert eml.status_code == 200 and eml.mimetype == "message/rfc822"
    assert eml.data == (REPO / "examples" / "inbox" / "01-botol-retak.eml").read_bytes()
    assert "masuk" in page and "keluar" in page


def test_the_recap_of_a_month_downloads(site: Site):
    client = site.client()
    assert "Rekapitulasi bulanan" in client.get("/rekap").text
    month = site.local.clock().astimezone(load_settings(site.local.config).timezone)
    docx = client.get(f"/rekap?bulan={month:%Y-%m}&jenis=docx")
    assert docx.status_code == 200 and docx.data[:2] == b"PK"
    assert f"Rekapitulasi-Keluhan-{month:%Y-%m}.docx" in docx.headers["Content-Disposition"]
    xlsx = client.get(f"/rekap?bulan={month:%Y-%m}&jenis=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    assert any(site.triage in [c.value for c in row] for row in sheet.iter_rows())


# ---- actions ------------------------------------------------------------------------------

def act(client: FlaskClient, site: Site, number: str, action: str, **form: str):
    data = {"csrf_token": token(client, "/"), "no": number, **form}
    response = client.post(f"/keluhan/aksi/{action}", data=data)
    assert response.status_code == 302, response.text
    return client.get(response.headers["Location"]).text


def web_events(site: Site, number: str, kind: str) -> list[dict]:
    return [e for e in show(site, number)["events"]
            if e["kind"] == kind and e["actor"] == "rina" and e["source"] == "web"]


def test_assign_from_triage_sends_the_form_to_the_department(site: Site):
    client = site.client()
    before = len(site.local.sent())
    page = act(client, site, site.triage, "tetapkan", department="gudang", note="cek stok")
    assert "Berhasil: menetapkan bagian." in page
    shown = show(site, site.triage)
    assert shown["status"] == "issued" and shown["department"] == "gudang"
    assert web_events(site, site.triage, "department_assigned")
    settings = load_settings(site.local.config)
    sent = site.local.sent()[before:]
    assert any(set(settings.departments["gudang"].addresses) & {m["To"] for m in sent}
               for _ in [0])
    assert any(p.get_filename() and p.get_filename().endswith(".docx")
               for m in sent for p in m.walk())


def test_a_refused_step_is_a_message_not_a_change(site: Site):
    client = site.client()
    page = act(client, site, site.triage, "verifikasi", effective="ya", note="baik")
    assert "Tidak dapat mencatat verifikasi" in page and "flash error" in page
    assert show(site, site.triage)["status"] == "triage"
    empty = act(client, site, site.triage, "catatan", text="   ")
    assert "Catatan wajib diisi" in empty
    unknown = act(client, site, site.triage, "tetapkan", department="gudang-x")
    assert "Tidak dapat menetapkan bagian" in unknown


def test_note_response_question_and_reject(site: Site):
    client = site.client()
    assert "Berhasil" in act(client, site, site.issued, "catatan", text="minta foto <b>")
    [note] = web_events(site, site.issued, "note")
    assert note["data"]["text"] == "minta foto <b>"
    assert "Berhasil" in act(client, site, site.issued, "tanggapan",
                             text="ditelepon, barang diganti")
    assert show(site, site.issued)["first_response_at"]
    before = len(site.local.sent())
    assert "Berhasil" in act(client, site, site.issued, "tanya",
                             question="Mohon kirim foto tutup botol.")
    assert web_events(site, site.issued, "customer_asked")
    asked = site.local.sent()[before:]
    assert [m["To"] for m in asked] == ["budi@maju.example.com"]
    assert "Mohon kirim foto tutup botol." in asked[0].get_payload(decode=True).decode() \
        if not asked[0].is_multipart() else True
    assert "Berhasil" in act(client, site, site.triage, "tolak", reason="bukan keluhan")
    assert show(site, site.triage)["status"] == "rejected"
    closed_page = client.get(f"/keluhan?no={site.triage}").text
    assert "/keluhan/aksi/tetapkan" not in closed_page


def test_verify_effective_and_not_effective(tmp_path: Path):
    from test_verification_documents import implemented

    for effective, status in (("ya", "closed"), ("tidak", "issued")):
        local, number = implemented(tmp_path / effective)
        result = local.run("users", "add", "rina", "--role", "admin",
                           env={"MAILPROC_USER_PASSWORD": PASSWORD})
        assert result.exit_code == 0
        settings = load_settings(local.config)
        store.open_database(settings.database_url)
        web = create_app(build_app(settings, clock=local.clock), secret_key="k" * 40)
        site = Site(local, web, number, number)
        client = site.client()
        page = client.get(f"/keluhan?no={number}").text
        assert "Verifikasi efektivitas" in page
        after = act(client, site, number, "verifikasi", effective=effective,
                    note="tidak terulang pada 3 pengiriman")
        assert "Berhasil: mencatat verifikasi." in after
        shown = show(site, number)
        assert shown["status"] == status
        assert shown["ptpps"][0]["verifier"] == "rina"
        assert web_events(site, number, "ptpp_verified") or web_events(
            site, number, "complaint_closed")
        if effective == "tidak":
            assert len(shown["ptpps"]) == 2 and "Siklus 2" in after


def test_secret_key_is_made_once_and_kept_private(tmp_path: Path):
    site = make_site(tmp_path)
    settings = load_settings(site.local.config)
    key = server.secret_key(settings)
    path = settings.state_dir / server.KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600 and len(key) >= 32
    assert server.secret_key(settings) == key


def test_users_commands(tmp_path: Path):
    local = LocalApp(tmp_path)
    env = {"MAILPROC_USER_PASSWORD": PASSWORD}
    assert local.run("users", "add", "rina", "--role", "admin", env=env).exit_code == 0
    again = local.run("users", "add", "rina", "--role", "viewer", env=env)
    assert again.exit_code == 1 and "already" in again.output
    short = local.run("users", "add", "budi", "--role", "viewer",
                      env={"MAILPROC_USER_PASSWORD": "pendek"})
    assert short.exit_code == 2 and "at least 10" in short.output
    listed = json.loads(local.run("users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("rina", "admin")]
    stored = (tmp_path / "var" / "mailproc.db").read_bytes()
    assert PASSWORD.encode() not in stored
    assert local.run("users", "password", "rina",
                     env={"MAILPROC_USER_PASSWORD": "kata-sandi-baru-2"}).exit_code == 0
    assert local.run("users", "password", "nobody", env=env).exit_code == 3


def test_password_hashes():
    stored = auth.hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert auth.check_password(PASSWORD, stored)
    assert not auth.check_password(PASSWORD + "x", stored)
    assert not auth.check_password(PASSWORD, None)
    assert not auth.check_password(PASSWORD, "md5$abc")
    assert auth.hash_password(PASSWORD) != stored  # salted


def test_the_dashboards_lean_records_give_the_digest_of_the_full_ones(tmp_path: Path):
    """store.webviews.status_records carries only what figures.digest reads: the digest from
    it equals the one from reportdata.load_records at every step of a complaint's life."""
    from test_verification_documents import implemented

    from mailproc.domain import figures
    from mailproc.reports import jobs
    from mailproc.store import reportdata, webviews

    local, number = implemented(tmp_path)
    add(local, "--channel", "telepon", "--customer", "PT Sentosa", "--description",
        "Mohon dihubungi soal pesanan")  # triage
    settings = load_settings(local.config)
    store.open_database(settings.database_url)
    app = build_app(settings, clock=local.clock)
    deps = {key: dep.name for key, dep in settings.departments.items()}
    targets = jobs.step_targets(app)
    since = local.clock() - timedelta(days=30)

    def both(now: datetime) -> tuple[figures.Digest, figures.Digest]:
        full = [r for r in reportdata.load_records(settings, open_at=since) if r.valid]
        lean = webviews.status_records(deps, closed_since=since)
        return (figures.digest(full, now=now, since=since, cal=app.calendar, targets=targets),
                figures.digest(lean, now=now, since=since, cal=app.calendar, targets=targets))

    for days in (0, 3, 20):
        full, lean = both(local.clock() + timedelta(days=days))
        assert full == lean and (full.overdue or days == 0)
    local.run("ptpp", "verify", number, "--effective", "--note", "baik", "--by", "t")
    full, lean = both(local.clock())
    assert full == lean and [i.number for i in full.closed_since] == [number]


def test_the_dashboard_sees_a_change_made_elsewhere(site: Site):
    """Its records are kept until the audit chain moves; a command in another process moves
    it too."""
    client = site.client()

    def triage_count() -> str:
        page = client.get("/").text
        return re.search(r'<span class="n">(\d+)</span><span class="l">Menunggu penentuan',
                         page).group(1)  # type: ignore[union-attr]

    assert triage_count() == "1"
    assert triage_count() == "1"  # from the kept records
    result = site.local.run("ptpp", "assign", site.triage, "gudang", "--by", "test")
    assert result.exit_code == 0, result.output
    assert triage_count() == "0"


def test_web_settings_are_checked(tmp_path: Path):
    from mailproc.errors import ConfigError

    local = LocalApp(tmp_path)
    text = local.config.read_text(encoding="utf-8")
    local.config.write_text(text.replace('listen = "127.0.0.1:8025"', 'listen = "8025"'),
                            encoding="utf-8")
    with pytest.raises(ConfigError, match="web.listen: use HOST:PORT"):
        load_settings(local.config)
    local.config.write_text(text, encoding="utf-8")
    short = load_settings(local.config, {"MAILPROC_WEB_SECRET_KEY": "kurang"})
    with pytest.raises(ConfigError, match="MAILPROC_WEB_SECRET_KEY .*at least 32"):
        server.secret_key(short)
    given = load_settings(local.config, {"MAILPROC_WEB_SECRET_KEY": "s" * 40})
    assert server.secret_key(given) == "s" * 40
    assert server.split_listen("[::1]:8025") == ("::1", 8025)
    with pytest.raises(ConfigError, match="--listen"):
        server.split_listen("localhost")


def test_the_months_charts(site: Site):
    client = site.client()
    page = client.get("/grafik").text
    images = re.findall(r'<img src="(/grafik/\d+\.png)"', page)
    assert len(images) >= 6 and "Jumlah keluhan per bulan" in page
    for image in images[:2]:
        png = client.get(image)
        assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/grafik/99.png").status_code == 404
    dashboard = client.get("/").text
    assert '<img src="/grafik/0.png"' in dashboard


def test_doctor_says_whether_anyone_can_act_and_where_the_page_listens(tmp_path: Path):
    from mailproc.ops import doctor

    local = LocalApp(tmp_path)
    settings = load_settings(local.config)
    [none] = doctor._web(settings, local.clock())
    assert none.status == doctor.WARN and "mailproc users add NAME --role admin" in none.message
    result = local.run("users", "add", "rina", "--role", "admin",
                       env={"MAILPROC_USER_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    [one] = doctor._web(settings, local.clock())
    assert one.status == doctor.OK and "1 admin" in one.message
    wide = replace(settings, web=replace(settings.web, listen="0.0.0.0:8025"))
    exposed, _ = doctor._web(wide, local.clock())
    assert exposed.status == doctor.WARN and "reverse proxy" in exposed.message
    proxied = replace(wide, web=replace(wide.web, behind_proxy=True))
    assert [c.status for c in doctor._web(proxied, local.clock())] == [doctor.OK]


def test_every_page_has_its_own_title(site: Site):
    client = site.web.test_client()
    assert "<title>Masuk · Keluhan Pelanggan" in client.get("/masuk").text
    client = site.client()
    for path, title in (("/", "Dasbor"), ("/register", "Register"),
                        (f"/keluhan?no={site.issued}", site.issued)):
        page = client.get(path).text
        found = re.search(r"<title>([^<]*)</title>", page)
        assert found and found.group(1).startswith(f"{title} · "), (path, found)
