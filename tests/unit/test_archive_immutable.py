"""Nothing archived is overwritten (issue #12): documents get versioned names, a message stored
again with the same bytes is the same file, and a file that appears while another is staged
for its name survives beside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mailproc.archive import Archive

WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Deferred:
    """Stands in for the store's transaction outcome: collects the archive's hooks."""

    def __init__(self) -> None:
        self.hooks: list[tuple[Callable[[], None], Callable[[], None]]] = []

    def __call__(self, done: Callable[[], None], undo: Callable[[], None]) -> None:
        self.hooks.append((done, undo))

    def commit(self) -> None:
        for done, _ in self.hooks:
            done()
        self.hooks.clear()


def test_a_document_never_replaces_another(tmp_path: Path):
    archive = Archive(tmp_path)
    first = archive.store_document(WHEN, "001", "PTPP-001.docx", b"form for qc")
    second = archive.store_document(WHEN, "001", "PTPP-001.docx", b"form for logistik")
    same = archive.store_document(WHEN, "001", "PTPP-001.docx", b"form for logistik")
    assert first.endswith("/dokumen/PTPP-001.docx")
    assert second.endswith("/dokumen/PTPP-001-v2.docx") and same.endswith("-v3.docx")
    assert (tmp_path / first).read_bytes() == b"form for qc"
    assert (tmp_path / second).read_bytes() == b"form for logistik"


def test_a_name_the_records_hold_is_not_reused(tmp_path: Path):
    archive = Archive(tmp_path)
    used = {"2026/03/001/dokumen/PTPP-001.docx"}  # a row names it, the file is gone
    rel = archive.store_document(WHEN, "001", "PTPP-001.docx", b"x", taken=used.__contains__)
    assert rel == "2026/03/001/dokumen/PTPP-001-v2.docx"


def test_a_message_stored_again_is_the_same_file_unless_its_bytes_differ(tmp_path: Path):
    archive = Archive(tmp_path)
    rel = archive.store_message(WHEN, "001", "<m1@example.com>", b"raw mail")
    assert archive.store_message(WHEN, "001", "<m1@example.com>", b"raw mail") == rel
    other = archive.store_message(WHEN, "001", "<m1@example.com>", b"other bytes")
    assert other != rel and other.endswith("-v2.eml")
    assert (tmp_path / rel).read_bytes() == b"raw mail"
    assert len(list((tmp_path / rel).parent.iterdir())) == 2


def test_staged_writes_take_versions_too_and_a_file_that_appears_survives(tmp_path: Path):
    defer = Deferred()
    archive = Archive(tmp_path, defer)
    a = archive.store_document(WHEN, "001", "PTPP-001.docx", b"first")
    b = archive.store_document(WHEN, "001", "PTPP-001.docx", b"second")  # same transaction
    assert a != b and not (tmp_path / a).exists()
    # Another process wrote the first name before our commit placed the file there.
    (tmp_path / a).parent.mkdir(parents=True)
    (tmp_path / a).write_bytes(b"someone else's")
    defer.commit()
    assert (tmp_path / a).read_bytes() == b"someone else's"  # never replaced
    kept = [p.read_bytes() for p in (tmp_path / a).parent.iterdir()]
    assert sorted(kept) == [b"first", b"second", b"someone else's"]
    assert not list((tmp_path / ".staging").iterdir())
