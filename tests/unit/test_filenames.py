"""mailproc.intake.filenames: safe file names for attachments and archived files."""

from __future__ import annotations

import pytest

from mailproc.intake.filenames import sanitise_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("/abs/path/foto.jpg", "foto.jpg"),
        ("C:\\Users\\budi\\Desktop\\faktur.pdf", "faktur.pdf"),
        ("", "lampiran"),
        ("   ", "lampiran"),
        ("..", "lampiran"),
        ("...", "lampiran"),
        (".htaccess", "htaccess"),
        ("laporan..pdf", "laporan.pdf"),
        ("CON.txt", "_CON.txt"),
        ("con", "_con"),
        ("lpt1.tar.gz", "_lpt1.tar.gz"),
        ("console.txt", "console.txt"),
        ("a\x00b\x1f\x7fc.txt", "abc.txt"),
        ("baris\r\nbaru.txt", "barisbaru.txt"),
        ("tagihan\u202efdp.exe", "tagihanfdp.exe"),  # right-to-left override spoofing
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("Foto kerusakan – gudang ü.jpg", "Foto kerusakan – gudang ü.jpg"),
        ("trailing dot. ", "trailing dot"),
        ("-rf.txt", "rf.txt"),
    ],
)
def test_sanitise_filename(name: str, expected: str) -> None:
    assert sanitise_filename(name) == expected


def test_sanitise_filename_bounds_length_and_keeps_extension() -> None:
    long = sanitise_filename("x" * 300 + ".pdf")
    assert len(long) <= 120 and long.endswith(".pdf") and long.startswith("xxx")
    wide = sanitise_filename("ü" * 300 + ".jpeg")
    assert len(wide.encode("utf-8")) <= 240 and wide.endswith(".jpeg")
    no_ext = sanitise_filename("y" * 500)
    assert len(no_ext) == 120


def test_sanitise_filename_custom_fallback() -> None:
    assert sanitise_filename("../", fallback="lampiran-3.bin") == "lampiran-3.bin"
