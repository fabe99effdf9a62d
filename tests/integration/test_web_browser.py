"""The web page in a real browser: Playwright driving Debian's chromium against `mailproc serve`'s
server (waitress, on a free port, in this process so it runs on the test's clock), with the
real mail servers of `mailenv` (Dovecot + SMTP). Sign in, filter the register, open a complaint,
download a form, assign from triage and see the department receive the form, verify effective
and see the status change; a viewer gets no actions, a forged POST is refused, and a complaint
containing `<script>` shows the characters.

MAILPROC_WEB_SCREENSHOTS=DIR also saves the dashboard, the register and a complaint page
there (the README's docs/web-*.png)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from appfixture import write_config
from conftest import MailEnv
from docfill import fill
from docx import Document
from procs import start_process
from test_ptpp_forms import DONE, NUMBER, register, reply_to, the_form

from mailproc import store
from mailproc.bootstrap import build_app
from mailproc.config import load_settings
from mailproc.web import server
from mailproc.web.app import create_app

CHROMIUM = os.environ.get("MAILPROC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "rahasia-panjang-1"
SCRIPT = "<script>alert('xss')</script>"


def _need_browser() -> Any:
    """playwright's sync API, or a skip (a failure under CI=true: CI installs both)."""
    missing = []
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
        missing.append("the playwright package (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        why = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why + "; .ci/install installs them")
        pytest.skip(why)
    return sync_api


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = _need_browser()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Site:
    url: str
    mailenv: MailEnv


@pytest.fixture
def site(mailenv: MailEnv) -> Iterator[Site]:
    for name, role in (("rina", "admin"), ("vera", "viewer")):
        result = mailenv.run("users", "add", name, "--role", role,
                             env={"MAILPROC_USER_PASSWORD": PASSWORD})
        assert result.exit_code == 0, result.output
    settings = load_settings(mailenv.config,
                             os.environ | {"MAILPROC_MAILBOX_PASSWORD": mailenv.dovecot.password})
    store.open_database(settings.database_url)
    app = build_app(settings, clock=mailenv.clock)
    web = create_app(app, secret_key=server.secret_key(settings))
    httpd = server.make_server(web, "127.0.0.1:0", threads=4)
    thread = threading.Thread(target=httpd.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{httpd.effective_port}", mailenv)
    finally:
        httpd.close()
        thread.join(timeout=10)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, locale="id-ID",
                                  viewport={"width": 1360, "height": 900})
    try:
        p = context.new_page()
        p.set_default_timeout(20_000)
        yield p
    finally:
        context.close()


def sign_in(page: Any, site: Site, name: str) -> None:
    page.goto(site.url + "/")
    assert "/masuk" in page.url
    page.get_by_label("Nama pengguna").fill(name)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(site.url + "/")
    assert page.locator("h1").inner_text() == "Dasbor"


def screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("MAILPROC_WEB_SCREENSHOTS")
    if folder:
        page.wait_for_load_state("networkidle")  # the dashboard's charts drawn and shown
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def numbers_shown(page: Any) -> list[str]:
    return page.locator("#register tbody tr td:nth-child(2)").all_inner_texts()


def test_sign_in_filter_open_download_and_assign_from_triage(site: Site, page: Any):
    env = site.mailenv
    issued = register(env)  # 01: routed to QC, its form issued
    env.deliver(env.sample("04-layanan.eml"))  # 02: no department, waits in triage
    env.poll()
    listed = json.loads(env.run("complaints", "list", "--json").stdout)
    [triage] = [c["number"] for c in listed if c["status"] == "triage"]

    sign_in(page, site, "rina")
    cards = page.locator(".cards").inner_text()
    assert "Menunggu penentuan bagian" in cards and "PTPP terbuka" in cards
    screenshot(page, "web-dasbor.png")

    # The register: everything, then searched, then filtered.
    page.get_by_role("link", name="Register").click()
    assert sorted(numbers_shown(page)) == sorted([NUMBER, triage])
    screenshot(page, "web-register.png")
    page.get_by_label("Cari").fill("botol")
    page.get_by_role("button", name="Terapkan").click()
    assert numbers_shown(page) == [NUMBER]
    page.get_by_role("link", name="Hapus filter").click()
    page.get_by_label("Status").select_option("triage")
    page.get_by_role("button", name="Terapkan").click()
    assert numbers_shown(page) == [triage]
    with page.expect_download() as shown:
        page.get_by_role("link", name="CSV").click()
    csv_text = Path(shown.value.path()).read_text(encoding="utf-8-sig")
    assert triage in csv_text and NUMBER not in csv_text

    # The complaint with its form: downloaded and opened again with python-docx.
    page.get_by_role("link", name="Hapus filter").click()
    page.get_by_role("link", name=NUMBER).click()
    assert page.locator("h1").inner_text().startswith(NUMBER)
    assert "PTPP diterbitkan" in page.locator("h1").inner_text()
    screenshot(page, "web-keluhan.png")
    with page.expect_download() as form:
        page.locator("ul.docs a").first.click()
    content = Path(form.value.path()).read_bytes()
    assert content == the_form(issued)
    Document(io.BytesIO(content))  # a real Word document

    # Assign the triage complaint: the department receives the form.
    page.goto(site.url + "/register")
    page.get_by_role("link", name=triage).click()
    page.get_by_label("Bagian").select_option("gudang")
    page.get_by_label("Catatan penetapan").fill("mohon cek stok gudang")
    page.get_by_role("button", name="Tetapkan & kirim PTPP").click()
    assert "Berhasil: menetapkan bagian." in page.locator(".flash").first.inner_text()
    assert "PTPP diterbitkan" in page.locator("h1").inner_text()
    [to_gudang] = env.received("gudang")
    assert to_gudang["Subject"].startswith(f"[{triage}]")
    assert the_form(to_gudang)[:2] == b"PK"
    shown_json = env.show(triage)
    [assigned] = [e for e in shown_json["events"] if e["kind"] == "department_assigned"]
    assert (assigned["actor"], assigned["source"]) == ("rina", "web")


def test_verify_effective_and_see_the_status_change(site: Site, page: Any):
    env = site.mailenv
    issued = register(env)
    env.deliver(reply_to(issued, env.addr("qc"), "Selesai.",
                         [("PTPP.docx", fill(the_form(issued), DONE))]))
    assert env.poll()["outcomes"] == {"ptpp_implemented": 1}

    sign_in(page, site, "rina")
    page.goto(site.url + "/register")
    page.get_by_role("link", name=NUMBER).click()
    assert "menunggu verifikasi" in page.locator("h1").inner_text()
    page.get_by_label("Efektif", exact=True).check()
    page.get_by_label("Catatan evaluasi").fill("tidak terulang pada 3 pengiriman terakhir")
    page.get_by_role("button", name="Simpan verifikasi").click()
    assert "Berhasil: mencatat verifikasi." in page.locator(".flash").first.inner_text()
    assert "Ditutup (efektif)" in page.locator("h1").inner_text()
    assert page.locator("#aksi").count() == 1  # a closed complaint: notes only
    assert page.locator("#aksi form").count() == 1
    shown = env.show(NUMBER)
    assert shown["status"] == "closed" and shown["ptpps"][0]["verifier"] == "rina"
    budi = env.customer("budi.santoso", "mitra-pangan.example.com")
    assert "telah selesai" in env.received(budi)[-1]["Subject"]


def _script_complaint(env: MailEnv) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Eko <eko@{env.tok}.example.com>"
    msg["To"] = env.inbox
    msg["Subject"] = f"Keluhan kemasan {SCRIPT}"
    msg["Message-ID"] = make_msgid(domain=f"{env.tok}.example.com")
    msg.set_content(f"Kemasan botol penyok dan bocor saat diterima. {SCRIPT}\n\nEko")
    return bytes(msg)


def test_a_viewer_gets_no_actions_a_forged_post_is_refused_and_script_stays_text(
        site: Site, page: Any):
    env = site.mailenv
    env.deliver(_script_complaint(env))
    [number] = env.poll()["registered"]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    sign_in(page, site, "vera")
    page.goto(site.url + "/register")
    assert SCRIPT in page.locator("#register").inner_text() or \
        number in numbers_shown(page)
    page.get_by_role("link", name=number).click()
    assert SCRIPT in page.locator("#uraian").inner_text()
    assert SCRIPT in page.locator(".subject").inner_text()
    assert page.locator("#aksi").count() == 0 and page.locator("form[action*=aksi]").count() == 0
    assert dialogs == []

    # A viewer's POST with a valid token, and anyone's POST without one: refused.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    as_viewer = page.request.post(site.url + "/keluhan/aksi/catatan",
                                  form={"csrf_token": csrf, "no": number, "text": "x"})
    assert as_viewer.status == 403
    page.get_by_role("button", name="Keluar").click()
    sign_in(page, site, "rina")
    forged = page.request.post(site.url + "/keluhan/aksi/tolak",
                               form={"no": number, "reason": "dipalsukan"})
    assert forged.status == 403 and "tidak sah" in forged.text()
    assert env.show(number)["status"] != "rejected"
    page.goto(site.url + "/keluhan?no=" + number)
    assert page.locator("#aksi").count() == 1  # the admin sees the actions
    assert dialogs == []
    assert re.search(r"&lt;script&gt;", page.content())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mailproc_serve_serves_until_stopped(tmp_path: Path):
    """The command itself, as systemd runs it: a process of its own, stopped by SIGTERM."""
    config = write_config(tmp_path)
    env = os.environ | {"MAILPROC_USER_PASSWORD": PASSWORD}
    for args in (["init"], ["users", "add", "rina", "--role", "admin"]):
        done = subprocess.run([sys.executable, "-m", "mailproc", "--config", str(config),
                               *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url + "/masuk", timeout=2):
                return True
        except OSError:
            return False

    proc = start_process([sys.executable, "-m", "mailproc", "--config", str(config), "serve",
                          "--listen", f"127.0.0.1:{port}"], output=tmp_path / "serve.log",
                         ready=answers, start_timeout=60, stop_timeout=15, env=env)
    try:
        with urllib.request.urlopen(url + "/") as response:  # redirected to sign in
            assert response.url.startswith(url + "/masuk")
            assert "Kata sandi" in response.read().decode()
            assert "HttpOnly" in response.headers["Set-Cookie"]
    finally:
        proc.stop()
    assert proc.popen.returncode == 0, (tmp_path / "serve.log").read_text()
    assert (tmp_path / "var" / "web-secret-key").stat().st_mode & 0o777 == 0o600
    assert f"web page on {url}/" in (tmp_path / "serve.log").read_text()
