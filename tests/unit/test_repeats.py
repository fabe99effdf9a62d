"""Repeat complaints at intake (issue #13, item 8): the rule, pure; then through the pipeline
on local mailboxes (the Dovecot round trip is tests/integration/test_repeats_mail.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailproc.domain.repeats import Facts, company_domain, repeat_of
from mailproc.domain.routing import rules_from_mapping

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def facts(number: str, days_ago: float, email: str, product: str = "", batch: str = "") -> Facts:
    return Facts(number, NOW - timedelta(days=days_ago), email, product, batch)


NEW = facts("", 0, "budi@mitra.example", "Botol PET 600 ml", "LOT-2611-07")


def test_same_customer_same_batch_or_product_within_the_window():
    earlier = [facts("001", 40, "budi@mitra.example", batch="lot 2611 07"),
               facts("002", 10, "ani@mitra.example", product="botol pet 600ML"),
               facts("003", 5, "budi@lain.example", batch="LOT-2611-07")]
    found = repeat_of(NEW, earlier, 90)
    assert found is not None and found.number == "002"  # the most recent; 003 is another firm
    assert repeat_of(NEW, earlier[:1], 30) is None  # 40 days ago: outside a 30-day window
    assert repeat_of(NEW, earlier, 0) is None  # off


def test_free_mail_addresses_are_not_one_company():
    new = facts("", 0, "budi@gmail.com", batch="LOT-1")
    assert company_domain("budi@gmail.com") == "" and company_domain("x@PT-A.co.id") == "pt-a.co.id"
    assert repeat_of(new, [facts("001", 3, "ani@gmail.com", batch="LOT-1")], 90) is None
    assert repeat_of(new, [facts("001", 3, "BUDI@gmail.com", batch="lot-1")], 90).number == "001"


def test_nothing_to_compare_by():
    bare = facts("", 0, "budi@mitra.example")
    assert repeat_of(bare, [facts("001", 1, "budi@mitra.example")], 90) is None
    other = facts("", 0, "budi@mitra.example", product="Tutup botol")
    assert repeat_of(other, [facts("001", 1, "budi@mitra.example", product="Botol")], 90) is None


def test_the_window_is_a_routing_setting():
    base = {"categories": [{"name": "k", "label": "K", "keywords": ["rusak"]}]}
    assert rules_from_mapping(base).repeat_window_days == 90
    assert rules_from_mapping(base | {"repeat_window_days": 30}).repeat_window_days == 30
    with pytest.raises(ValueError, match="repeat_window_days"):
        rules_from_mapping(base | {"repeat_window_days": -1})
