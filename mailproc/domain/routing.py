"""Routing: which category, and so which responsible department, a complaint text concerns;
whether the customer asks for a return; and the reference numbers quoted in the text.

Pure domain code. The rules arrive as data (the `[routing]` and `[extract]` tables of the
configuration, already parsed); nothing here reads files, mailboxes or the clock.

Matching, in short:
- the text is lower-cased, cut into clauses at . , ; : ! ? and line breaks, and each clause into
  word tokens (letters and digits; internal hyphens stay inside the token);
- slang tokens are replaced first (gak -> tidak), and keywords are normalised the same way;
- a keyword matches whole tokens only ('bau' never matches 'baut'); a phrase matches consecutive
  tokens of one clause;
- a token of at least `min_stem_length` characters also matches through Indonesian affix
  stripping, at most two strips deep (kerusakan -> rusak, dikembalikan -> kembali);
- where several keywords match the same tokens, the most specific reading wins (see
  `_resolve`); a hit with a negator up to 3 tokens before it in its clause is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from mailproc.domain.states import severity_of

__all__ = [
    "CategoryRule",
    "ExtractedFields",
    "RoutingDecision",
    "RoutingRules",
    "classify_text",
    "compile_patterns",
    "extract_fields",
    "rules_from_mapping",
    "word_forms",
]

# Letters/digits, internal hyphens kept ('lot-2611-07', 'barang-barang'); '_' is not a letter.
_TOKEN_RE = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_CLAUSE_RE = re.compile(r"[.,;:!?\r\n]+")

_SUFFIXES = frozenset(("nya", "lah", "kah", "kan", "an", "i"))
_PREFIXES = frozenset(
    ("di", "ke", "ter", "ber", "me", "mem", "men", "meng", "meny", "pe", "per", "pen", "peng", "se")
)
_SUFFIX_LENGTHS = sorted({len(s) for s in _SUFFIXES})
_PREFIX_LENGTHS = sorted({len(p) for p in _PREFIXES})
_CONFIXES = (("ke", "an"), ("pe", "an"), ("per", "an"), ("ber", "an"))
# A strip never leaves fewer than 3 letters: 'peng' must not turn into the keyword 'ng'.
_MIN_STEM = 3
_NEGATION_WINDOW = 3
_RETURN = -1  # owner index of return keywords


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class CategoryRule:
    name: str  # machine key, e.g. 'kualitas'
    label: str  # Indonesian label for people, e.g. 'Kualitas / cacat produk'
    department: str | None  # department key from configuration; None = triage
    keywords: tuple[str, ...]  # single words or phrases
    severity: str = "minor"  # the PTPP category a complaint of it starts with


@dataclass(frozen=True)
class _Keyword:
    text: str  # as configured, for the audit trail
    words: tuple[str, ...]  # normalised tokens
    owner: int  # category index, or _RETURN


@dataclass(frozen=True)
class _Compiled:
    slang: Mapping[str, tuple[str, ...]]
    negators: frozenset[str]
    by_first_word: Mapping[str, tuple[_Keyword, ...]]
    max_words: int
    # token -> the keywords that may start at it (through any of its word forms), filled as
    # tokens are met: most tokens of a mail start no keyword, and this answers them with one
    # look-up. A cache of a pure function of the rules, bounded (_STARTS_MAX).
    starts: dict[tuple[str, int], tuple[_Keyword, ...]] = field(default_factory=dict)


_STARTS_MAX = 200_000


@dataclass(frozen=True)
class RoutingRules:
    categories: tuple[CategoryRule, ...]
    return_keywords: tuple[str, ...]
    negators: tuple[str, ...]
    slang: Mapping[str, str]
    min_stem_length: int = 4
    # A complaint from the same customer about the same product or batch within this many
    # days of an earlier one is a repeat complaint (domain.repeats); 0 turns the check off.
    repeat_window_days: int = 90
    # Keyword index, built once here so that classify_text does only dictionary look-ups.
    _compiled: _Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", _compile_rules(self))

    def category(self, name: str) -> CategoryRule | None:
        """The rule called `name`, or None."""
        return next((c for c in self.categories if c.name == name), None)


@dataclass(frozen=True)
class RoutingDecision:
    categories: tuple[str, ...]  # every matched category, best first
    primary: str | None
    department: str | None  # the primary category's department; None -> triage
    return_requested: bool
    # category -> distinct keywords that matched, in order of first appearance (audit trail).
    # A plain dict so that it serialises as JSON; treat it as read-only.
    matches: Mapping[str, tuple[str, ...]]
    return_matches: tuple[str, ...] = ()  # the return keywords that matched (audit trail)


def _tokens(text: str, slang: Mapping[str, tuple[str, ...]]) -> list[str]:
    out: list[str] = []
    for token in _TOKEN_RE.findall(text.lower()):
        out.extend(slang.get(token, (token,)))
    return out


def _compile_rules(rules: RoutingRules) -> _Compiled:
    slang: dict[str, tuple[str, ...]] = {}
    for key, value in rules.slang.items():
        keys = _TOKEN_RE.findall(key.lower())
        words = tuple(_TOKEN_RE.findall(value.lower()))
        if len(keys) != 1 or not words:
            raise ValueError(f"slang {key!r} = {value!r}: expected one word mapped to words")
        slang[keys[0]] = words  # as the tokeniser will see it ('Gak!' -> 'gak')

    negators: set[str] = set()
    for negator in rules.negators:
        words = _tokens(negator, slang)
        if len(words) != 1:
            raise ValueError(f"negator {negator!r}: expected a single word")
        negators.add(words[0])

    index: dict[str, list[_Keyword]] = {}
    seen: set[tuple[int, tuple[str, ...]]] = set()
    owned: list[tuple[int, str]] = [
        (i, kw) for i, cat in enumerate(rules.categories) for kw in cat.keywords
    ]
    owned += [(_RETURN, kw) for kw in rules.return_keywords]
    for owner, text in owned:
        words = tuple(_tokens(text, slang))
        if not words:
            raise ValueError(f"keyword {text!r}: has no words")
        # 'qty …' and 'jumlah …' may normalise alike; one phrase must count once.
        if (owner, words) in seen:
            continue
        seen.add((owner, words))
        index.setdefault(words[0], []).append(_Keyword(text.strip(), words, owner))
    return _Compiled(
        slang=slang,
        negators=frozenset(negators),
        by_first_word={k: tuple(v) for k, v in index.items()},
        max_words=max((len(k.words) for v in index.values() for k in v), default=1),
    )


# --------------------------------------------------------------------------- affixes


def _strip_once(word: str) -> set[str]:
    n = len(word)
    out: set[str] = set()
    for k in _SUFFIX_LENGTHS:
        if n - k >= _MIN_STEM and word[-k:] in _SUFFIXES:
            out.add(word[:-k])
    for k in _PREFIX_LENGTHS:
        if n - k >= _MIN_STEM and word[:k] in _PREFIXES:
            out.add(word[k:])
    for p, s in _CONFIXES:
        if n - len(p) - len(s) >= _MIN_STEM and word.startswith(p) and word.endswith(s):
            out.add(word[len(p) : n - len(s)])
    return out


# Pure and called for every word of every mail; most words recur, so remembering them pays.
@lru_cache(maxsize=65536)
def word_forms(token: str, min_stem_length: int = 4) -> frozenset[str]:
    """The token itself plus what affix stripping makes of it, at most two strips deep.

    Conservative on purpose: no stemmer dictionary and no nasal restoration (penyok stays
    penyok, pengiriman does not become kirim). Two strips are what 'dikembalikan' -> 'kembali'
    and 'keterlambatan' -> 'terlambat' -> 'lambat' need; a confix counts as one strip.
    """
    forms = {token}
    if "-" in token:
        # Reduplication ('barang-barangnya', 'rusak-rusak') means the base word.
        parts = token.split("-")
        if len(parts) == 2:
            second = word_forms(parts[1], min_stem_length)
            if parts[0] in second:
                forms |= second
    elif len(token) >= min_stem_length and token.isalpha():
        once = _strip_once(token)
        forms |= once
        for form in once:
            forms |= _strip_once(form)
    return frozenset(forms)


# --------------------------------------------------------------------------- classifying


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int  # exclusive
    exact: bool  # every token equal to the keyword word, no affix stripping
    keyword: _Keyword


def _clauses(text: str, slang: Mapping[str, tuple[str, ...]]) -> Iterator[list[str]]:
    for clause in _CLAUSE_RE.split(text.lower()):
        tokens = _tokens(clause, slang)
        if tokens:
            yield tokens


def _starting_at(token: str, compiled: _Compiled, min_len: int) -> tuple[_Keyword, ...]:
    starts = compiled.starts
    found = starts.get((token, min_len))
    if found is None:
        by_first = compiled.by_first_word
        # Sorted forms: the same order of hits in every process (frozenset order is not).
        found = tuple(kw for form in sorted(word_forms(token, min_len))
                      for kw in by_first.get(form, ()))
        if len(starts) >= _STARTS_MAX:
            starts.clear()
        starts[(token, min_len)] = found
    return found


def _find_hits(tokens: list[str], compiled: _Compiled, min_len: int) -> list[_Hit]:
    hits: list[_Hit] = []
    n_tokens = len(tokens)
    for i, token in enumerate(tokens):
        for kw in _starting_at(token, compiled, min_len):
            words = kw.words
            end = i + len(words)
            if end > n_tokens:
                continue
            if all(words[k] in word_forms(tokens[i + k], min_len) for k in range(1, len(words))):
                exact = all(words[k] == tokens[i + k] for k in range(len(words)))
                hits.append(_Hit(i, end, exact, kw))
    return hits


def _resolve(hits: list[_Hit], max_words: int) -> list[_Hit]:
    """Keep the most specific reading of each stretch of text.

    1. One hit per owner per span: exact before stripped, then the longer keyword
       ('keterlambatannya' counts once for keterlambatan, not three times).
    2. On one span an exact hit beats stripped ones of other owners: 'tertukar' is the wrong-item
       keyword, not the return keyword 'tukar'.
    3. A hit inside a longer hit is dropped: 'segel rusak' is packaging, not quality;
       'respon lambat' is service, not late delivery; 'faktur pengganti' is not 'ganti'.
    """

    def specificity(hit: _Hit) -> tuple[bool, int]:
        return hit.exact, len(hit.keyword.text)

    best: dict[tuple[int, int, int], _Hit] = {}
    for hit in hits:
        key = (hit.start, hit.end, hit.keyword.owner)
        if key not in best or specificity(hit) > specificity(best[key]):
            best[key] = hit
    exact_spans = {(h.start, h.end) for h in best.values() if h.exact}
    kept = [h for h in best.values() if h.exact or (h.start, h.end) not in exact_spans]

    ends_by_start: dict[int, list[int]] = {}
    for hit in kept:
        ends_by_start.setdefault(hit.start, []).append(hit.end)

    def inside_longer(hit: _Hit) -> bool:
        length = hit.end - hit.start
        for start in range(max(0, hit.start - max_words + 1), hit.start + 1):
            for end in ends_by_start.get(start, ()):
                if end >= hit.end and end - start > length:
                    return True
        return False

    return sorted((h for h in kept if not inside_longer(h)), key=lambda h: (h.start, h.end))


def _negated(hit: _Hit, tokens: list[str], negators: frozenset[str], covered: set[int]) -> bool:
    # A negator that belongs to a matched phrase ('tidak berfungsi') negates nothing else.
    window = range(max(0, hit.start - _NEGATION_WINDOW), hit.start)
    return any(tokens[p] in negators and p not in covered for p in window)


def classify_text(text: str, rules: RoutingRules) -> RoutingDecision:
    """Categories of a complaint text, best first, and whether a return is asked for.

    Categories rank by the number of distinct keywords that matched; ties go to the category
    listed first in the rules. No category matched -> primary and department are None (triage).
    """
    compiled = rules._compiled
    found: dict[int, dict[str, None]] = {}  # owner -> keywords (ordered set)
    for tokens in _clauses(text, compiled.slang):
        hits = _find_hits(tokens, compiled, rules.min_stem_length)
        if not hits:
            continue
        hits = _resolve(hits, compiled.max_words)
        covered = {p for h in hits for p in range(h.start, h.end)}
        for hit in hits:
            if not _negated(hit, tokens, compiled.negators, covered):
                found.setdefault(hit.keyword.owner, {})[hit.keyword.text] = None

    returns = tuple(found.pop(_RETURN, {}))
    ranked = sorted(found, key=lambda owner: (-len(found[owner]), owner))
    names = tuple(rules.categories[i].name for i in ranked)
    primary = rules.categories[ranked[0]] if ranked else None
    return RoutingDecision(
        categories=names,
        primary=primary.name if primary else None,
        department=primary.department if primary else None,
        return_requested=bool(returns),
        matches={rules.categories[i].name: tuple(found[i]) for i in ranked},
        return_matches=returns,
    )


# --------------------------------------------------------------------------- parsing rules

_ROUTING_KEYS = ("categories", "return_keywords", "negators", "slang", "min_stem_length",
                 "repeat_window_days")
_CATEGORY_KEYS = ("name", "label", "department", "keywords", "severity")


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
    # Unknown keys are most often typos ('keyword' for 'keywords'); silence would hide them.
    for key in table:
        if key not in allowed:
            raise ValueError(f"{path}.{key}: unknown key (expected one of {', '.join(allowed)})")


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: expected a non-empty string")
    return value.strip()


def _word_list(value: Any, path: str, *, single_words: bool = False) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{path}: expected a list of strings")
    out: dict[str, None] = {}
    for i, item in enumerate(value):
        words = _TOKEN_RE.findall(item.lower())
        if not words:
            raise ValueError(f"{path}[{i}]: {item!r} has no words")
        if _CLAUSE_RE.search(item):
            # Text is cut into clauses at these marks, so such a phrase could never match.
            raise ValueError(f"{path}[{i}]: {item!r} contains punctuation (. , ; : ! ?)")
        if single_words and len(words) != 1:
            raise ValueError(f"{path}[{i}]: {item!r} must be a single word")
        out.setdefault(item.strip(), None)
    return tuple(out)


def _category(value: Any, path: str) -> CategoryRule:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: expected a table with name, label, department, keywords")
    _check_keys(value, _CATEGORY_KEYS, path)
    name = _string(value.get("name"), f"{path}.name")
    label = _string(value.get("label"), f"{path}.label")
    department = value.get("department")
    if department is not None and not isinstance(department, str):
        raise ValueError(f'{path}.department: expected a string ("" for triage)')
    department = (department or "").strip() or None
    if "keywords" not in value:
        raise ValueError(f"{path}.keywords: expected a list of strings")
    keywords = _word_list(value["keywords"], f"{path}.keywords")
    severity = value.get("severity", "minor")
    if not isinstance(severity, str) or severity_of(severity) is None:
        raise ValueError(f'{path}.severity: expected "mayor", "minor" or "observasi" '
                         f"(found {severity!r})")
    return CategoryRule(name=name, label=label, department=department, keywords=keywords,
                        severity=str(severity_of(severity)))


def rules_from_mapping(data: Mapping[str, Any]) -> RoutingRules:
    """Build the rules from the `[routing]` table (already loaded from TOML).

    `categories` is required; `return_keywords`, `negators` and `slang` default to empty and
    `min_stem_length` to 4. Raises ValueError naming the bad key, list indexes from 0:
    "routing.categories[2].keywords: expected a list of strings".
    """
    if not isinstance(data, Mapping):
        raise ValueError("routing: expected a table")
    _check_keys(data, _ROUTING_KEYS, "routing")

    raw = data.get("categories")
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ValueError("routing.categories: expected a non-empty array of tables")
    categories: list[CategoryRule] = []
    for i, item in enumerate(raw):
        rule = _category(item, f"routing.categories[{i}]")
        if any(c.name == rule.name for c in categories):
            raise ValueError(f"routing.categories[{i}].name: duplicate category {rule.name!r}")
        categories.append(rule)

    return_keywords = _word_list(data.get("return_keywords", []), "routing.return_keywords")
    negators = _word_list(data.get("negators", []), "routing.negators", single_words=True)

    raw_slang = data.get("slang", {})
    if not isinstance(raw_slang, Mapping):
        raise ValueError("routing.slang: expected a table of word = replacement")
    slang: dict[str, str] = {}
    for key, value in raw_slang.items():
        if len(_TOKEN_RE.findall(str(key).lower())) != 1:
            raise ValueError(f"routing.slang.{key}: the key must be a single word")
        if not isinstance(value, str) or not _TOKEN_RE.findall(value):
            raise ValueError(f"routing.slang.{key}: expected a string of one or more words")
        slang[str(key).lower()] = value

    min_stem = data.get("min_stem_length", 4)
    if isinstance(min_stem, bool) or not isinstance(min_stem, int) or min_stem < 1:
        raise ValueError("routing.min_stem_length: expected a whole number of at least 1")

    window = data.get("repeat_window_days", 90)
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError("routing.repeat_window_days: expected a whole number of days (0: off)")

    try:
        return RoutingRules(
            categories=tuple(categories),
            return_keywords=return_keywords,
            negators=negators,
            slang=slang,
            min_stem_length=min_stem,
            repeat_window_days=window,
        )
    except ValueError as exc:  # what only shows after slang is applied, e.g. a negator
        raise ValueError(f"routing: {exc}") from exc


# --------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class ExtractedFields:
    """Reference data quoted in a complaint; '' where the text did not say."""

    product: str = ""
    batch: str = ""
    quantity: str = ""
    invoice: str = ""
    delivery_note: str = ""


_FIELD_NAMES = tuple(f.name for f in fields(ExtractedFields))
_TRAILING = " \t\r\n.,;:!?\"'"


def compile_patterns(patterns: Mapping[str, Any]) -> dict[str, tuple[re.Pattern[str], ...]]:
    """Compile the `[extract]` table: field name -> a regex with a `(?P<value>...)` group, or
    a list of them tried in order (the first that matches wins: a labelled "Produk: …"
    before a product named in prose).

    Patterns match case-insensitively. A field left out is simply not extracted. Raises
    ValueError naming the key ("extract.batch: ...", "extract.product[1]: ...") on an unknown
    field, a bad regex or a missing value group.
    """
    if not isinstance(patterns, Mapping):
        raise ValueError("extract: expected a table of field = pattern")
    compiled: dict[str, tuple[re.Pattern[str], ...]] = {}
    for key, source in patterns.items():
        path = f"extract.{key}"
        if key not in _FIELD_NAMES:
            raise ValueError(f"{path}: unknown field (expected one of {', '.join(_FIELD_NAMES)})")
        sources = list(enumerate(source)) if isinstance(source, list) else [(None, source)]
        if not sources:
            raise ValueError(f"{path}: expected a regular expression or a list of them")
        out = []
        for i, text in sources:
            where = path if i is None else f"{path}[{i}]"
            if not isinstance(text, str):
                raise ValueError(f"{where}: expected a regular expression as a string")
            try:
                pattern = re.compile(text, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"{where}: invalid regular expression: {exc}") from exc
            if "value" not in pattern.groupindex:
                raise ValueError(f"{where}: the pattern needs a (?P<value>...) group")
            out.append(pattern)
        compiled[key] = tuple(out)
    return compiled


def _clean(value: str) -> str:
    value = " ".join(value.split()).rstrip(_TRAILING)
    # A closing bracket is punctuation only when it closes nothing inside the value.
    while value.endswith(")") and value.count("(") < value.count(")"):
        value = value[:-1].rstrip(_TRAILING)
    return value


def extract_fields(text: str,
                   patterns: Mapping[str, tuple[re.Pattern[str], ...]]) -> ExtractedFields:
    """Per field, the first match of its first pattern that matches; whitespace collapsed,
    trailing punctuation removed."""
    values: dict[str, str] = {}
    for name in _FIELD_NAMES:
        values[name] = ""
        for pattern in patterns.get(name, ()):
            match = pattern.search(text)
            if match and (match.group("value") or "").strip():
                values[name] = _clean(match.group("value"))
                break
    return ExtractedFields(**values)
