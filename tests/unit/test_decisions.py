"""Decision lines in marketing administration's replies (pure)."""

from mailproc.domain.decisions import Kind, own_text, parse


def test_each_accepted_line():
    p = parse("bagian: QC\nTolak: iklan\nTANYA PELANGGAN: Berapa jumlah yang rusak?\n"
              "Kirim analisis: ya\nTanggapan: sudah ditelepon pak Budi")
    assert [(d.kind, d.value) for d in p.decisions] == [
        (Kind.ASSIGN, "QC"), (Kind.REJECT, "iklan"),
        (Kind.ASK_CUSTOMER, "Berapa jumlah yang rusak?"), (Kind.SEND_ANALYSIS, "YA"),
        (Kind.RESPONSE, "sudah ditelepon pak Budi")]
    assert not p.unknown and not p.problems


def test_catatan_goes_with_efektif_otherwise_it_is_a_note():
    p = parse("EFEKTIF: TIDAK\nCATATAN: masih terulang di pengiriman kedua")
    [d] = p.decisions
    assert (d.kind, d.value, d.note) == (Kind.EFFECTIVE, "TIDAK",
                                         "masih terulang di pengiriman kedua")
    [note] = parse("Catatan: pelanggan minta kunjungan").decisions
    assert (note.kind, note.value) == (Kind.NOTE, "pelanggan minta kunjungan")


def test_quoted_original_and_signature_are_ignored():
    reply = """BAGIAN: gudang

Terima kasih.
--
Rina
Admin Marketing
EFEKTIF: YA

On Wed, 25 Nov 2026 at 10:00, Sistem <keluhan@contoh.co.id> wrote:
> BAGIAN: qc
> TOLAK: contoh
"""
    assert [(d.kind, d.value) for d in parse(reply).decisions] == [(Kind.ASSIGN, "gudang")]


def test_outlook_header_block_and_indonesian_gmail():
    outlook = ("TOLAK: salah kirim alamat\n\nFrom: Layanan Keluhan <keluhan@contoh.co.id>\n"
               "Sent: Wednesday, November 25, 2026 10:00 AM\nTo: Admin\n"
               "Subject: [001/PTPP/MKT/XI/2026] Keluhan baru\n\nBAGIAN: qc\n")
    assert [d.kind for d in parse(outlook).decisions] == [Kind.REJECT]
    gmail = "BAGIAN: qc\n\nPada Rab, 25 Nov 2026 pukul 10.00 Sistem <k@x> menulis:\nTOLAK: x\n"
    assert [d.kind for d in parse(gmail).decisions] == [Kind.ASSIGN]
    assert own_text("a\n> b\nc") == "a\nc"


def test_unknown_and_bad_values_are_reported_prose_is_not():
    p = parse("Halo Bu, ini keputusan saya.\nBAGAIN: qc\nEFEKTIF: mungkin\nRe: sesuatu")
    assert p.unknown == ("BAGAIN: qc",)
    assert p.problems == ("EFEKTIF: tulis YA atau TIDAK (tertulis 'mungkin')",)
    assert parse("Terima kasih, sudah saya baca. Catatan nanti.").empty
