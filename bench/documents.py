"""Documents benchmark: rendering a PTPP and reading a filled one, against bare docxtpl.

    python bench/documents.py [--n 40] [--json]

In one process and one run, with the shipped doc_templates/ptpp.docx and sample_context('ptpp')
(cycle 2 with the previous analysis):

  bare docxtpl   DocxTemplate(path).render(ctx) + save to BytesIO, with the same two photos
                 as InlineImage: the floor mailproc's render builds on.
  render         mailproc.forms.render.render(path, ctx, images=2 photos): sandboxed autoescaped
                 Jinja, value finalizing, photo checks, placeholder marking, save.
  read_form      mailproc.forms.readback.read_form(filled form): sniffing, zip limits, safe XML
                 parsing of every part, controls by tag, label fallback.
  python-docx    docx.Document(BytesIO(filled form)): opening the same file with python-docx,
                 for scale (it reads no content controls).

Each is run --n times after 3 warm-up runs; the table gives the median and the 10th / 90th
percentiles in ms and the ratio of each median to the bare docxtpl median. A script, not a
test: it prints figures and does not pass or fail on them. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from docfill import PTPP_ANSWERS, fill, png  # noqa: E402

from mailproc.forms.catalogue import sample_context  # noqa: E402
from mailproc.forms.readback import read_form  # noqa: E402
from mailproc.forms.render import render  # noqa: E402

TEMPLATE = REPO / "doc_templates" / "ptpp.docx"


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="timed runs of each (default 40)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    import docx
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage

    ctx = sample_context("ptpp")
    photos = [("Foto 1: leher botol retak", png(400, 300)),
              ("Foto 2: label batch", png(300, 400, 90))]

    def bare() -> bytes:
        tpl = DocxTemplate(str(TEMPLATE))
        items = [{"image": InlineImage(tpl, io.BytesIO(blob), width=Mm(70)), "caption": cap}
                 for cap, blob in photos]
        tpl.render(dict(ctx, photos=items, photo_rows=[items]), autoescape=True)
        out = io.BytesIO()
        tpl.save(out)
        return out.getvalue()

    def ours() -> bytes:
        return render(TEMPLATE, ctx, images=photos)

    filled = fill(ours(), PTPP_ANSWERS)
    assert read_form(filled).values["root_cause"] == PTPP_ANSWERS["root_cause"]

    cases = [
        ("bare docxtpl render + save", bare),
        ("mailproc render (2 photos)", ours),
        ("mailproc read_form (filled)", lambda: read_form(filled)),
        ("python-docx open (filled)", lambda: docx.Document(io.BytesIO(filled))),
    ]
    results: dict[str, dict[str, float]] = {}
    for name, fn in cases:
        times = sorted(timed(fn, args.n))
        deciles = statistics.quantiles(times, n=10)
        results[name] = {"median_ms": statistics.median(times), "p10_ms": deciles[0],
                         "p90_ms": deciles[-1]}
    floor = results["bare docxtpl render + save"]["median_ms"]
    for figures in results.values():
        figures["ratio"] = figures["median_ms"] / floor

    if args.json:
        print(json.dumps({"n": args.n, "python": platform.python_version(),
                          "template_bytes": TEMPLATE.stat().st_size,
                          "filled_bytes": len(filled), "results": results}, indent=2))
        return 0
    print(f"n = {args.n}, Python {platform.python_version()}, template "
          f"{TEMPLATE.stat().st_size // 1024} KB, filled form {len(filled) // 1024} KB")
    print(f"{'':32} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'/ bare':>7}")
    for name, f in results.items():
        print(f"{name:32} {f['median_ms']:10.1f} {f['p10_ms']:8.1f} {f['p90_ms']:8.1f} "
              f"{f['ratio']:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
