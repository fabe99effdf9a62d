"""Routing rules and field extraction, driven by the example configuration in
tests/fixtures/routing.toml (the tables the example config file carries)."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailproc.domain.routing import (
    CategoryRule,
    ExtractedFields,
    RoutingRules,
    classify_text,
    compile_patterns,
    extract_fields,
    rules_from_mapping,
    word_forms,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "routing.toml"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    with FIXTURE.open("rb") as fh:
        return tomllib.load(fh)


@pytest.fixture(scope="module")
def rules(config: dict[str, Any]) -> RoutingRules:
    return rules_from_mapping(config["routing"])


@pytest.fixture(scope="module")
def patterns(config: dict[str, Any]) -> dict[str, Any]:
    return compile_patterns(config["extract"])


def primary(text: str, rules: RoutingRules) -> str | None:
    return classify_text(text, rules).primary


# --------------------------------------------------------------------------- the fixture


def test_fixture_has_the_domain_categories_in_priority_order(rules: RoutingRules) -> None:
    got = [(c.name, c.department, c.label) for c in rules.categories]
    assert got == [
        ("kualitas", "qc", "Kualitas / cacat produk"),
        ("kemasan", "gudang", "Kemasan"),
        ("keterlambatan", "logistik", "Keterlambatan pengiriman"),
        ("kuantitas", "gudang", "Kuantitas kurang / selisih"),
        ("salah_kirim", "gudang", "Salah kirim"),
        ("tagihan", "keuangan", "Tagihan / faktur"),
        ("layanan", None, "Layanan"),  # department "" means triage
    ]
    assert rules.min_stem_length == 4
    assert rules.category("kemasan") is rules.categories[1]
    assert rules.category("nope") is None


# Every word DOMAIN.md lists under "Words customers use", each in a short realistic sentence.
DOMAIN_WORDS = [
    ("kualitas", "Botolnya cacat."),
    ("kualitas", "Barang datang dalam keadaan rusak."),
    ("kualitas", "Hasil incoming: reject 20 pcs."),
    ("kualitas", "Produk NG 20 pcs."),
    ("kualitas", "Mesin tidak berfungsi."),
    ("kualitas", "Ukuran tutup tidak sesuai spek."),
    ("kualitas", "Banyak yang retak."),
    ("kualitas", "Handle patah."),
    ("kualitas", "Jerigen bocor."),
    ("kualitas", "Tepung berjamur."),
    ("kualitas", "Produk bau menyengat."),
    ("kualitas", "Botol kotor di bagian dalam."),
    ("kualitas", "Ada kontaminasi serangga."),
    ("kualitas", "Warna beda dengan sampel."),
    ("kualitas", "Produk sudah kedaluwarsa."),
    ("kualitas", "Produk sudah kadaluarsa."),
    ("kemasan", "Kemasan rusak saat diterima."),
    ("kemasan", "Dus rusak semua."),
    ("kemasan", "Karton rusak."),
    ("kemasan", "Kemasan penyok."),
    ("kemasan", "Plastik sobek."),
    ("kemasan", "Kardus basah."),
    ("kemasan", "Segel rusak."),
    ("kemasan", "Label salah."),
    ("keterlambatan", "Pengiriman terlambat."),
    ("keterlambatan", "Kiriman telat 3 hari."),
    ("keterlambatan", "Barang belum sampai."),
    ("keterlambatan", "Barang belum diterima."),
    ("keterlambatan", "Jadwal kirim molor."),
    ("keterlambatan", "Pengiriman lambat."),
    ("keterlambatan", "Keterlambatan pengiriman."),
    ("kuantitas", "Barang kurang 10 pcs."),
    ("kuantitas", "Ada selisih 5 karton."),
    ("kuantitas", "Aksesoris tidak lengkap."),
    ("kuantitas", "Qty tidak sesuai surat jalan."),
    ("salah_kirim", "Barang salah kirim."),
    ("salah_kirim", "Produk tertukar dengan pesanan lain."),
    ("salah_kirim", "Ini bukan pesanan kami."),
    ("salah_kirim", "Salah ukuran."),
    ("salah_kirim", "Salah tipe."),
    ("salah_kirim", "Salah warna."),
    ("salah_kirim", "Dikirim ke salah alamat."),
    ("tagihan", "Tagihan bulan ini."),
    ("tagihan", "Invoice bulan ini."),
    ("tagihan", "Faktur salah."),
    ("tagihan", "Kami kena double tagih."),
    ("tagihan", "Harga tidak sesuai penawaran."),
    ("tagihan", "PPN dihitung dua kali."),
    ("layanan", "Respon lambat."),
    ("layanan", "Email kami tidak dibalas."),
    ("layanan", "Sales susah dihubungi."),
    ("layanan", "Petugasnya tidak ramah."),
]


@pytest.mark.parametrize(("category", "text"), DOMAIN_WORDS)
def test_every_domain_word_routes_to_its_category(
    category: str, text: str, rules: RoutingRules
) -> None:
    decision = classify_text(text, rules)
    assert decision.categories == (category,), decision.matches


@pytest.mark.parametrize("word", ["retur", "tukar", "ganti", "klaim", "refund", "dikembalikan"])
def test_every_domain_return_word_requests_a_return(word: str, rules: RoutingRules) -> None:
    decision = classify_text(f"Barang rusak, mohon {word}.", rules)
    assert decision.return_requested
    assert decision.return_matches == (word,)
    assert decision.categories == ("kualitas",)  # return intent is no category of its own


# --------------------------------------------------------------------------- tokens, slang


def test_case_does_not_matter(rules: RoutingRules) -> None:
    assert primary("BARANG RUSAK", rules) == "kualitas"
    assert primary("produk ng", rules) == "kualitas"


def test_slang_is_replaced_before_matching(rules: RoutingRules) -> None:
    assert primary("brg blm sampai", rules) == "keterlambatan"
    assert primary("brg krg 5 pcs", rules) == "kuantitas"
    # 'tdk' -> 'tidak' completes the phrase; 'SJ' expands to two words.
    assert classify_text("qty tdk sesuai SJ", rules).matches == {
        "kuantitas": ("qty tidak sesuai surat jalan",)
    }


def test_hyphenated_tokens_stay_whole(rules: RoutingRules) -> None:
    # 'anti-bocor' is one token, not the word 'bocor'; a code like 'LOT-NG-07' is not 'NG'.
    assert classify_text("Kemasan anti-bocor, batch LOT-NG-07.", rules).categories == ()
    # Reduplication stands for the base word.
    assert primary("Botolnya retak-retak.", rules) == "kualitas"


# --------------------------------------------------------------------------- word boundaries


@pytest.mark.parametrize(
    "text",
    [
        "Baut kendor.",  # 'bau' is not a prefix match
        "Kapan ngirim barangnya?",  # 'ng' only as a word
        "Barang sudah sampai dengan selamat.",  # 'sampai' alone is no keyword
        "Mohon dicek lagi.",
        "Semua aman, terima kasih.",
    ],
)
def test_keywords_match_whole_words_only(text: str, rules: RoutingRules) -> None:
    assert classify_text(text, rules).categories == ()


def test_short_keyword_as_a_whole_word_matches(rules: RoutingRules) -> None:
    decision = classify_text("Ada produk NG sebanyak 12 pcs.", rules)
    assert decision.matches == {"kualitas": ("NG",)}


def test_phrases_match_consecutive_words_in_one_clause(rules: RoutingRules) -> None:
    assert primary("Barang salah kirim.", rules) == "salah_kirim"
    assert primary("Barang salah dikirim.", rules) == "salah_kirim"  # affix on a phrase word
    assert primary("Kirim salah.", rules) is None  # order matters
    assert primary("Salah satu barang kami kirim ulang.", rules) is None  # not consecutive
    assert primary("Ada yang salah, kirim ulang ya.", rules) is None  # crosses a clause


# --------------------------------------------------------------------------- affixes


@pytest.mark.parametrize(
    ("token", "stem"),
    [
        ("kerusakan", "rusak"),
        ("keterlambatan", "terlambat"),
        ("keterlambatan", "lambat"),
        ("kekurangan", "kurang"),
        ("kebocoran", "bocor"),
        ("rusaknya", "rusak"),
        ("dikembalikan", "kembali"),
        ("dikembalikan", "dikembalikan"),
        ("kerusakannya", "rusak"),
        ("berbeda", "beda"),
        ("diganti", "ganti"),
        ("penggantian", "ganti"),
        ("tertukar", "tukar"),
        ("barang-barangnya", "barang"),
        ("penyok", "penyok"),
    ],
)
def test_word_forms_strip_indonesian_affixes(token: str, stem: str) -> None:
    assert stem in word_forms(token)


@pytest.mark.parametrize(
    ("token", "not_a_stem"),
    [
        ("peng", "ng"),  # a strip never leaves fewer than 3 letters
        ("pengiriman", "kirim"),  # no nasal restoration
        ("penyok", "sok"),
        ("baut", "bau"),
        ("anti-bocor", "bocor"),
        ("bau", "ba"),  # shorter than min_stem_length: exact only
    ],
)
def test_word_forms_stay_conservative(token: str, not_a_stem: str) -> None:
    assert not_a_stem not in word_forms(token)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Terjadi kerusakan pada 15 pcs.", "kualitas"),
        ("Atas keterlambatannya kami sangat kecewa.", "keterlambatan"),
        ("Ada kekurangan 3 karton.", "kuantitas"),
        ("Ditemukan kebocoran pada jerigen.", "kualitas"),
        ("Rusaknya parah.", "kualitas"),
        ("Barang kami direject QC.", "kualitas"),
        ("Kemasannya rusak.", "kemasan"),
        ("Warna berbeda dengan sampel.", "kualitas"),
        ("Tutupnya penyok.", "kemasan"),
    ],
)
def test_affixed_words_route(text: str, category: str, rules: RoutingRules) -> None:
    assert primary(text, rules) == category


def test_dikembalikan_as_keyword_matches_itself_and_with_suffix(rules: RoutingRules) -> None:
    assert classify_text("Uang mohon dikembalikan.", rules).return_requested
    assert classify_text("Mohon dikembalikannya segera.", rules).return_requested
    # ...but the bare stem is an everyday word, not a return request.
    assert not classify_text("Kami akan kembali menghubungi.", rules).return_requested


def test_one_affixed_word_counts_as_one_keyword(rules: RoutingRules) -> None:
    # 'keterlambatan' reaches 'terlambat' and 'lambat' too; the exact keyword is reported once.
    decision = classify_text("Keterlambatan ini merugikan.", rules)
    assert decision.matches == {"keterlambatan": ("keterlambatan",)}
    decision = classify_text("Atas keterlambatannya kami kecewa.", rules)
    assert decision.matches == {"keterlambatan": ("keterlambatan",)}


def test_min_stem_length_limits_affix_stripping() -> None:
    def rules_with(min_len: int) -> RoutingRules:
        category = CategoryRule("kualitas", "Kualitas", "qc", ("rusak",))
        return RoutingRules((category,), (), (), {}, min_stem_length=min_len)

    assert classify_text("rusaknya", rules_with(8)).primary == "kualitas"  # 8 letters
    assert classify_text("rusaknya", rules_with(9)).primary is None  # exact only
    assert classify_text("rusak", rules_with(9)).primary == "kualitas"  # exact still works


# --------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("Tidak ada yang rusak.", ()),
        ("Barangnya rusak, tidak ada label.", ("kualitas",)),
        ("Gak rusak kok.", ()),
        ("Tdk ada yg rusak.", ()),
        ("Barang belum sampai.", ("keterlambatan",)),
        ("Pengiriman bukan terlambat, tapi salah alamat.", ("salah_kirim",)),
        ("Tanpa cacat sedikit pun.", ()),
        ("Produk tidak cacat; kemasan sobek.", ("kemasan",)),
        # The negator must be within 3 tokens before the keyword ...
        ("Kami tidak menyangka botolnya bisa retak.", ("kualitas",)),
        # ... and in the same clause.
        ("Tidak, barangnya rusak.", ("kualitas",)),
        ("Tidak ada masalah!\nTapi 10 pcs rusak.", ("kualitas",)),
    ],
)
def test_negation(text: str, categories: tuple[str, ...], rules: RoutingRules) -> None:
    assert classify_text(text, rules).categories == categories


def test_negator_inside_a_keyword_is_not_a_negation(rules: RoutingRules) -> None:
    assert primary("Pompa tidak berfungsi.", rules) == "kualitas"
    assert primary("Dimensi tidak sesuai spek.", rules) == "kualitas"
    assert primary("Isi paket tidak lengkap.", rules) == "kuantitas"
    # ... and does not cancel the keyword right after it either.
    decision = classify_text("Pompa tidak berfungsi dan bocor.", rules)
    assert decision.matches == {"kualitas": ("tidak berfungsi", "bocor")}


def test_negated_return_word_is_no_return_request(rules: RoutingRules) -> None:
    decision = classify_text("Barang rusak, tapi tidak perlu diganti.", rules)
    assert decision.categories == ("kualitas",)
    assert not decision.return_requested


# --------------------------------------------------------------------------- overlaps


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("Segel rusak.", {"kemasan": ("segel rusak",)}),
        ("Respon lambat sekali.", {"layanan": ("respon lambat",)}),
        ("Admin kurang ramah.", {"layanan": ("kurang ramah",)}),
        ("Double tagihan untuk PO yang sama.", {"tagihan": ("double tagih",)}),
    ],
)
def test_a_keyword_inside_a_longer_match_does_not_count(
    text: str, matches: dict[str, tuple[str, ...]], rules: RoutingRules
) -> None:
    assert classify_text(text, rules).matches == matches


def test_exact_keyword_beats_a_stripped_one_on_the_same_word(rules: RoutingRules) -> None:
    # 'tertukar' (wrong item) is not the return word 'tukar'.
    decision = classify_text("Produk tertukar dengan pesanan PT lain.", rules)
    assert decision.categories == ("salah_kirim",)
    assert not decision.return_requested
    # A replacement invoice is billing, not a goods return.
    decision = classify_text("Mohon diterbitkan faktur pengganti.", rules)
    assert decision.categories == ("tagihan",)
    assert not decision.return_requested


# --------------------------------------------------------------------------- ranking


def test_several_categories_rank_by_distinct_keywords(rules: RoutingRules) -> None:
    decision = classify_text("Pengiriman terlambat, botol bocor dan retak.", rules)
    assert decision.categories == ("kualitas", "keterlambatan")
    assert decision.department == "qc"
    decision = classify_text("Botol retak. Kirimnya telat, molor dua minggu.", rules)
    assert decision.categories == ("keterlambatan", "kualitas")
    assert decision.department == "logistik"


def test_a_repeated_keyword_counts_once(rules: RoutingRules) -> None:
    decision = classify_text("Rusak, rusak, rusak semua! Dan terlambat, molor.", rules)
    assert decision.matches["kualitas"] == ("rusak",)
    assert decision.primary == "keterlambatan"


def test_ties_go_to_the_category_listed_first(rules: RoutingRules) -> None:
    decision = classify_text("Tagihan sudah kami terima, tapi barang kurang 2 pcs.", rules)
    assert decision.categories == ("kuantitas", "tagihan")  # kuantitas is listed before tagihan


def test_no_keyword_means_triage(rules: RoutingRules) -> None:
    decision = classify_text("Selamat pagi, mohon info status pesanan kami.", rules)
    assert decision.categories == ()
    assert decision.primary is None
    assert decision.department is None
    assert not decision.return_requested
    assert decision.matches == {}


def test_category_without_department_means_triage(rules: RoutingRules) -> None:
    decision = classify_text("Sales kami susah dihubungi.", rules)
    assert decision.primary == "layanan"
    assert decision.department is None


def test_matches_serialise_for_the_audit_trail(rules: RoutingRules) -> None:
    decision = classify_text("Botol retak, mohon retur.", rules)
    assert json.loads(json.dumps(decision.matches)) == {"kualitas": ["retak"]}
    assert decision.return_matches == ("retur",)


# --------------------------------------------------------------------------- whole mails

QUALITY_MAIL = (
    "Dengan hormat, kami menerima kiriman botol PET 600 ml dengan No. batch LOT-2611-07 "
    "sebanyak 120 pcs, namun 15 pcs retak dan kemasan karton penyok. Mohon diganti."
)

BILLING_MAIL = """Selamat siang Ibu/Bapak,

Terkait faktur INV/2026/11/0457 untuk PO 4500123 (surat jalan SJ-26-1187), harga tidak sesuai
dengan penawaran yang disepakati dan PPN dihitung dari harga sebelum diskon.
Mohon diterbitkan nota kredit atau faktur pengganti.

Terima kasih,
Rina - Purchasing PT Sumber Makmur"""

LATE_MAIL = """Yth. Bagian Marketing,

Pesanan kami PO 4500777 (botol HDPE 1 L, qty 2.000 pcs) dijadwalkan tiba 10 November.
Sampai hari ini brg blm sampai dan belum ada kabar dari ekspedisi.
Keterlambatan ini mengganggu jadwal produksi kami.

Salam,
Budi"""

DOUBLE_BILLING_MAIL = (
    "Kami kena double tagih untuk Invoice No. INV-889: barang yang sama juga ditagihkan di "
    "INV-890. Mohon refund atas kelebihan bayar."
)

NEGATED_MAIL = """Pak, untuk kiriman tanggal 3 kemarin tidak ada yang rusak, kemasan juga
tidak sobek. Hanya saja jumlahnya kurang 2 karton dari surat jalan No. SJ: 0098/SJ/XI/26."""


def test_quality_mail(rules: RoutingRules, patterns: dict[str, Any]) -> None:
    decision = classify_text(QUALITY_MAIL, rules)
    assert decision.categories == ("kualitas", "kemasan")
    assert decision.primary == "kualitas"
    assert decision.department == "qc"
    assert decision.return_requested
    assert decision.matches == {"kualitas": ("retak",), "kemasan": ("penyok",)}
    fields = extract_fields(QUALITY_MAIL, patterns)
    assert fields.batch == "LOT-2611-07"
    assert fields.quantity == "120 pcs"
    # Named in the prose (issue #13: the product picked out of the text).
    assert (fields.product, fields.invoice, fields.delivery_note) == ("botol PET 600 ml", "", "")


def test_billing_mail(rules: RoutingRules, patterns: dict[str, Any]) -> None:
    decision = classify_text(BILLING_MAIL, rules)
    assert decision.categories == ("tagihan",)
    assert decision.department == "keuangan"
    assert decision.matches == {
        "tagihan": ("harga tidak sesuai", "PPN", "nota kredit", "faktur pengganti")
    }
    assert not decision.return_requested
    fields = extract_fields(BILLING_MAIL, patterns)
    assert fields.invoice == "INV/2026/11/0457"
    assert fields.delivery_note == "SJ-26-1187"


def test_late_delivery_mail(rules: RoutingRules, patterns: dict[str, Any]) -> None:
    decision = classify_text(LATE_MAIL, rules)
    assert decision.categories == ("keterlambatan",)
    assert decision.department == "logistik"
    assert decision.matches == {"keterlambatan": ("belum sampai", "keterlambatan")}
    assert not decision.return_requested
    assert extract_fields(LATE_MAIL, patterns).quantity == "2.000 pcs"


def test_double_billing_mail(rules: RoutingRules, patterns: dict[str, Any]) -> None:
    decision = classify_text(DOUBLE_BILLING_MAIL, rules)
    assert decision.primary == "tagihan"
    assert decision.matches == {"tagihan": ("double tagih", "invoice")}
    assert decision.return_requested
    assert extract_fields(DOUBLE_BILLING_MAIL, patterns).invoice == "INV-889"


def test_mail_with_negations(rules: RoutingRules, patterns: dict[str, Any]) -> None:
    decision = classify_text(NEGATED_MAIL, rules)
    assert decision.categories == ("kuantitas",)
    assert decision.department == "gudang"
    assert extract_fields(NEGATED_MAIL, patterns).delivery_note == "0098/SJ/XI/26"


# --------------------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("Produk: Botol PET 600 ml", "product", "Botol PET 600 ml"),
        ("Produk : Botol PET 600 ml.\nBatch: X1", "product", "Botol PET 600 ml"),
        ("Nama barang: Tutup 28 mm, warna biru", "product", "Tutup 28 mm"),
        ("No. batch: LOT-2611-07", "batch", "LOT-2611-07"),
        ("dari lot 2611A ada yang bocor", "batch", "2611A"),
        ("Batch No. 2611-B.", "batch", "2611-B"),
        ("kode produksi 2611B", "batch", "2611B"),
        ("ditemukan pada LOT-2611-07 saja", "batch", "LOT-2611-07"),
        ("qty 120 pcs", "quantity", "120 pcs"),
        ("jumlah: 1.200 pcs", "quantity", "1.200 pcs"),
        ("sebanyak 3 karton", "quantity", "3 karton"),
        ("Qty: 40.", "quantity", "40"),
        ("faktur INV/2026/11/0457", "invoice", "INV/2026/11/0457"),
        ("Invoice No. INV-889", "invoice", "INV-889"),
        ("No. faktur: 0457/XI/26.", "invoice", "0457/XI/26"),
        ("(INV-889)", "invoice", "INV-889"),
        ("surat jalan SJ-26-1187", "delivery_note", "SJ-26-1187"),
        ("No. SJ: 0098/SJ/XI/26", "delivery_note", "0098/SJ/XI/26"),
        ("lihat SJ-26-1187, terlampir", "delivery_note", "SJ-26-1187"),
    ],
)
def test_extract_fields(text: str, field: str, value: str, patterns: dict[str, Any]) -> None:
    assert getattr(extract_fields(text, patterns), field) == value


@pytest.mark.parametrize(
    "text",
    [
        "batch yang sama juga bermasalah",  # a label without a number
        "jumlah tidak sesuai",
        "faktur salah",
        "qty tidak sesuai surat jalan",
        "produk NG",  # no colon: prose, not a label
    ],
)
def test_labels_without_values_extract_nothing(text: str, patterns: dict[str, Any]) -> None:
    assert extract_fields(text, patterns) == ExtractedFields()


def test_extract_takes_the_first_match(patterns: dict[str, Any]) -> None:
    fields = extract_fields("qty 120 pcs, sebanyak 3 karton", patterns)
    assert fields.quantity == "120 pcs"


def test_extract_with_missing_patterns_leaves_fields_empty() -> None:
    patterns = compile_patterns({"batch": r"batch\s+(?P<value>\S+)"})
    assert extract_fields("Batch 77A; rusak", patterns) == ExtractedFields(batch="77A")
    assert extract_fields("anything", {}) == ExtractedFields()


def test_extract_strips_trailing_punctuation_only() -> None:
    patterns = compile_patterns({"product": r"produk:\s*(?P<value>.+)"})
    assert extract_fields("Produk:  Botol   (PET) 600 ml ).", patterns).product == (
        "Botol (PET) 600 ml"
    )


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ({"batch": "batch (?P<value>[a-z"}, "extract.batch: invalid regular expression"),
        ({"invoice": r"inv\s+(\S+)"}, "extract.invoice: the pattern needs a (?P<value>...) group"),
        ({"customer": r"(?P<value>x)"}, "extract.customer: unknown field"),
        ({"quantity": 12}, "extract.quantity: expected a regular expression as a string"),
    ],
)
def test_compile_patterns_names_the_bad_key(patterns: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        compile_patterns(patterns)
    assert str(excinfo.value).startswith(message)


# --------------------------------------------------------------------------- bad shapes


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set(("categories", 2, "keywords"), "terlambat"),
         "routing.categories[2].keywords: expected a list of strings"),
        (_set(("categories", 2, "keywords"), ["terlambat", 3]),
         "routing.categories[2].keywords: expected a list of strings"),
        (_delete(("categories", 0, "keywords")),
         "routing.categories[0].keywords: expected a list of strings"),
        (_set(("categories", 1, "keywords"), ["penyok", "  ", "sobek"]),
         "routing.categories[1].keywords[1]: '  ' has no words"),
        (_set(("categories", 1, "keywords"), ["no. sj"]),
         "routing.categories[1].keywords[0]: 'no. sj' contains punctuation"),
        (_delete(("categories", 3, "name")),
         "routing.categories[3].name: expected a non-empty string"),
        (_set(("categories", 3, "label"), ""),
         "routing.categories[3].label: expected a non-empty string"),
        (_set(("categories", 4, "department"), 5),
         "routing.categories[4].department: expected a string"),
        (_set(("categories", 5, "name"), "kualitas"),
         "routing.categories[5].name: duplicate category 'kualitas'"),
        (_set(("categories", 0, "keyword"), ["x"]),
         "routing.categories[0].keyword: unknown key"),
        (_set(("categories", 6), "layanan"),
         "routing.categories[6]: expected a table"),
        (_set(("categories",), []), "routing.categories: expected a non-empty array of tables"),
        (_delete(("categories",)), "routing.categories: expected a non-empty array of tables"),
        (_set(("return_keywords",), "retur"),
         "routing.return_keywords: expected a list of strings"),
        (_set(("negators",), ["tidak", "tidak ada"]),
         "routing.negators[1]: 'tidak ada' must be a single word"),
        (_set(("slang",), ["gak"]), "routing.slang: expected a table of word = replacement"),
        (_set(("slang", "gak"), 1), "routing.slang.gak: expected a string of one or more words"),
        (_set(("slang", "g k"), "tidak"), "routing.slang.g k: the key must be a single word"),
        (_set(("min_stem_length",), "4"), "routing.min_stem_length: expected a whole number"),
        (_set(("min_stem_length",), True), "routing.min_stem_length: expected a whole number"),
        (_set(("keywords",), ["x"]), "routing.keywords: unknown key"),
        (_set(("slang", "tak"), "tidak ada"), "routing: negator 'tak': expected a single word"),
    ],
)  # fmt: skip
def test_rules_from_mapping_names_the_bad_key(
    mutate: Callable[[dict[str, Any]], None], message: str, config: dict[str, Any]
) -> None:
    data = copy.deepcopy(config["routing"])
    mutate(data)
    with pytest.raises(ValueError) as excinfo:
        rules_from_mapping(data)
    assert str(excinfo.value).startswith(message)


def test_rules_from_mapping_defaults_and_empty_department() -> None:
    rules = rules_from_mapping(
        {"categories": [{"name": "x", "label": "X", "department": "", "keywords": ["rusak"]}]}
    )
    assert rules.categories == (CategoryRule("x", "X", None, ("rusak",)),)
    assert (rules.return_keywords, rules.negators, dict(rules.slang)) == ((), (), {})
    assert rules.min_stem_length == 4
    assert (
        rules_from_mapping({"categories": [{"name": "x", "label": "X", "keywords": []}]})
        .categories[0]
        .department
        is None
    )


def test_rules_from_mapping_rejects_a_non_table() -> None:
    with pytest.raises(ValueError, match="^routing: expected a table"):
        rules_from_mapping(["categories"])  # type: ignore[arg-type]


def test_a_list_of_patterns_the_first_that_matches_wins() -> None:
    patterns = compile_patterns({"product": [r"produk:\s*(?P<value>[^,\n]+)",
                                             r"\b(?P<value>botol\b(?:\s+\w+){0,3}?\s+\d+\s?ml)"]})
    assert extract_fields("Produk: Tutup 28 mm, botol 600 ml", patterns).product == "Tutup 28 mm"
    assert extract_fields("kiriman Botol PET 600 ml retak", patterns).product == "Botol PET 600 ml"
    with pytest.raises(ValueError, match=r"extract\.product\[1\]: the pattern needs"):
        compile_patterns({"product": [r"(?P<value>x)", r"no group"]})
