"""Safe file names for attachments and archived files: `sanitise_filename` (what may be created
on Linux and Windows), `extension_for` (a content type's usual extension, for parts that came
without a name) and the length bound that keeps the extension.

Pure string work; creates no files and reads no MIME structure (the raw name comes from
`mime.filename`). Used by the parser and by `mailproc.archive`.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata

from mailproc.intake.mime import fix_surrogates

__all__ = ["MAX_FILENAME_BYTES", "MAX_FILENAME_CHARS", "extension_for", "sanitise_filename"]

MAX_FILENAME_CHARS = 120
MAX_FILENAME_BYTES = 240  # UTF-8 bytes; most file systems allow 255 per name

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", "conin$", "conout$"} | {
    f"{dev}{n}" for dev in ("com", "lpt") for n in "0123456789¹²³"
}
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, bidi overrides, surrogates


def _truncate_filename(name: str) -> str:
    """Bound the length in characters and UTF-8 bytes, cutting the stem, not the extension."""
    if len(name) <= MAX_FILENAME_CHARS and len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 16 and " " not in ext:
        ext = "." + ext
    else:
        stem, ext = name, ""
    stem = stem[: MAX_FILENAME_CHARS - len(ext)]
    while stem and len((stem + ext).encode("utf-8")) > MAX_FILENAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" .") + ext


def sanitise_filename(name: str, *, fallback: str = "lampiran") -> str:
    """A file name that is safe to create on Linux and Windows, keeping what a person recognises.

    Directory parts are dropped (both separators), control and bidi-override characters removed,
    characters Windows forbids replaced by '_', '..' collapsed, leading dots/dashes stripped
    (no hidden files, no option-like names), reserved device names prefixed with '_', and the
    length bounded keeping the extension. Returns `fallback` when nothing usable remains.
    """
    if not isinstance(name, str):
        name = "" if name is None else str(name)
    text = unicodedata.normalize("NFC", fix_surrogates(name))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = re.sub(r'[<>:"|?*]', "_", text)
    text = " ".join(text.split())
    text = re.sub(r"\.{2,}", ".", text)
    text = text.lstrip(" .-").rstrip(" .")
    if text.split(".", 1)[0].rstrip(" ").lower() in _WINDOWS_RESERVED:
        text = "_" + text
    text = _truncate_filename(text)
    if not text.strip("._ "):
        return fallback
    return text


_EXTENSIONS = {
    "application/octet-stream": ".bin",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "application/x-7z-compressed": ".7z",
    "application/vnd.rar": ".rar",
    "application/x-rar-compressed": ".rar",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/ms-tnef": ".dat",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/pgp-signature": ".asc",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/tiff": ".tif",
    "image/heic": ".heic",
    "image/svg+xml": ".svg",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "text/calendar": ".ics",
    "text/rfc822-headers": ".txt",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "video/mp4": ".mp4",
    "audio/mpeg": ".mp3",
}


def extension_for(content_type: str) -> str:
    """'.pdf' for application/pdf and so on; '.bin' when there is no sensible one."""
    ext = _EXTENSIONS.get(content_type)
    if ext:
        return ext
    guessed = mimetypes.guess_extension(content_type, strict=False) or ""
    return guessed if re.fullmatch(r"\.[a-z0-9]{1,8}", guessed) else ".bin"
