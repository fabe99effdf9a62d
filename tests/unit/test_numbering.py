import pytest

from mailproc.domain.numbering import NumberPattern, roman_month


def test_default_pattern_is_indonesian_style():
    p = NumberPattern(NumberPattern.DEFAULT)
    assert p.format(1, 2026, 11) == "001/PTPP/MKT/XI/2026"
    assert p.format(1234, 2027, 4) == "1234/PTPP/MKT/IV/2027"


@pytest.mark.parametrize("month,roman", [(1, "I"), (4, "IV"), (9, "IX"), (12, "XII")])
def test_roman_months(month, roman):
    assert roman_month(month) == roman


def test_find_numbers_in_subjects():
    p = NumberPattern(NumberPattern.DEFAULT)
    subject = "Re: [007/PTPP/MKT/XI/2026] Keluhan Anda, juga 012/PTPP/MKT/XII/2026"
    assert p.find(subject) == ["007/PTPP/MKT/XI/2026", "012/PTPP/MKT/XII/2026"]
    # Not a prefix of a longer token, not a bad month.
    assert p.find("X007/PTPP/MKT/XI/2026") == []
    assert p.find("007/PTPP/MKT/XIII/2026") == []


def test_custom_pattern_and_slug():
    p = NumberPattern("PTPP-{yy}{month:02d}-{seq:04d}")
    n = p.format(5, 2026, 3)
    assert n == "PTPP-2603-0005"
    assert p.find(f"Re: {n}") == [n]
    assert NumberPattern(NumberPattern.DEFAULT).slug("001/PTPP/MKT/XI/2026") == \
        "001-PTPP-MKT-XI-2026"


@pytest.mark.parametrize(
    "bad", ["{seq}/PTPP", "{year}/PTPP", "{seq}/{year}/{nope}", "{seq:q}/{year}"])
def test_bad_patterns_are_refused(bad):
    with pytest.raises(ValueError):
        NumberPattern(bad)
