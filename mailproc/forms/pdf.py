"""PDF copies of Word documents with LibreOffice headless (issue #13, item 10): what customers
and sales & marketing read (the closure report, the analysis and plan) goes with a PDF beside
the Word file when LibreOffice is installed; without it, Word only. Bytes in, bytes out."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class PdfError(RuntimeError):
    pass


def find_soffice(configured: str = "") -> str | None:
    """The LibreOffice program: the configured path when it exists, else `soffice` or
    `libreoffice` on the PATH; None when there is none."""
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(content: bytes, soffice: str, *, timeout: float = 180) -> bytes:
    """`content` (a .docx) converted to PDF. A private profile per call: two mailproc
    processes, or a person's own LibreOffice, do not trip over one profile's lock."""
    with tempfile.TemporaryDirectory(prefix="mailproc-pdf-") as tmp:
        work = Path(tmp)
        (work / "in.docx").write_bytes(content)
        cmd = [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
               "--norestore", "--convert-to", "pdf", "--outdir", str(work), str(work / "in.docx")]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfError(f"LibreOffice did not convert the document: {exc}") from None
        out = work / "in.pdf"
        if done.returncode != 0 or not out.exists():
            detail = (done.stderr or done.stdout).decode(errors="replace").strip()[:300]
            raise PdfError(f"LibreOffice did not convert the document (exit {done.returncode}"
                           f"{': ' + detail if detail else ''})")
        return out.read_bytes()
