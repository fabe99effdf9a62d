"""mailproc.intake.htmltext: HTML mail bodies to readable text."""

from __future__ import annotations

from mailproc.intake.htmltext import html_to_text


def test_html_to_text_blocks_lists_tables_entities() -> None:
    html = (
        "<html><head><title>judul</title><style>p {color: red}</style></head><body>"
        "<p>Dengan   hormat,</p><p>baris&nbsp;satu<br>baris dua</p>"
        "<ul><li>kemasan penyok</li><li>barang rusak<ul><li>retak</li></ul></li></ul>"
        "<table><tr><th>Batch</th><th>Qty</th></tr><tr><td>LOT-2611-07</td><td>120 pcs</td></tr>"
        "</table><div>A &amp; B &lt;C&gt; &eacute;&#8364;&#x2013;</div>"
        "<script>document.write('x')</script></body></html>"
    )
    text = html_to_text(html)
    assert text == (
        "Dengan hormat,\n\n"
        "baris satu\nbaris dua\n\n"
        "- kemasan penyok\n- barang rusak\n  - retak\n"
        "Batch | Qty\nLOT-2611-07 | 120 pcs\n"
        "A & B <C> é€–"
    )


def test_html_to_text_tolerates_broken_markup() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<table><tr><td>a<td>b<tr><td>c") == "a | b\nc"
    assert "halo" in html_to_text("<p>halo <b>dunia</i></div></td></table>")
    assert "isi" in html_to_text("<![bogus[ x ]]><p>isi</p>")
    assert html_to_text("<head><title>t</title><body>badan") == "badan"


def test_html_to_text_keeps_pre_whitespace() -> None:
    assert html_to_text("<pre>Kode   Qty\nA-1    10</pre>") == "Kode   Qty\nA-1    10"
