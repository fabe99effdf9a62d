"""mailproc.intake.mime: charsets, header decoding, dates."""

from __future__ import annotations

from mailproc.intake.mime import decode_bytes, decode_header_value, parse_date


def test_decode_bytes_never_drops_characters() -> None:
    assert decode_bytes(b"caf\xe9", "utf-8") == "caf\ufffd"  # replace, never ignore
    assert decode_bytes("café".encode("cp1252"), "windows-1252") == "café"
    assert decode_bytes("“ok” €".encode("cp1252"), "iso-8859-1") == "“ok” €"
    assert decode_bytes(b"abc", "base64") == "abc"  # not a text codec: guessed, not "decoded"
    assert decode_bytes(b"\xef\xbb\xbfhalo", "utf-8") == "halo"
    assert decode_bytes("qty – 120".encode(), "us-ascii") == "qty – 120"  # mislabelled UTF-8
    assert decode_bytes(b"caf\xe9", None) == "café"


def test_decode_header_value_joins_split_multibyte_words() -> None:
    # 'ü' (C3 BC) split across two encoded words, as some mailers do
    assert decode_header_value("=?utf-8?Q?gudang_=C3?= =?utf-8?Q?=BC?=") == "gudang ü"
    assert decode_header_value("=?utf-8?B?YmFyYW5nIHJ1c2Fr?=") == "barang rusak"
    assert decode_header_value("=?utf-8?B?!!broken?=") == "=?utf-8?B?!!broken?="


def test_parse_date_unreadable_is_none() -> None:
    assert parse_date("kemarin sore") is None
    # a 20-digit year or zone makes the stdlib raise OverflowError, not ValueError
    assert parse_date("Mon, 24 Nov 99999999999999999999 09:15:00 +0000") is None
    assert parse_date("24 Nov 2025 09:15:00 +99999999999999999999") is None
    assert parse_date("Mon, 24 Nov 2025 09:15:00 +0700").isoformat() == "2025-11-24T09:15:00+07:00"
