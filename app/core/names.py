"""The one cleaning of a file name that is stored, shown or sent (issue 10.7).

An uploaded name is the uploader's text: it may carry a path, control characters, or bidirectional controls that
make `gpj.exe‮` read as `exe.jpg` on screen and in a save dialog. Every stored upload name (evidence, Excel
imports) passes `clean_name` at upload time, and every Content-Disposition name passes it again when sent (names
stored before this cleaning existed included). `with_extension` gives a name the extension of the type its
bytes were sniffed as, not the one the uploader wrote.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the marks U+200E/U+200F and
# the Arabic letter mark U+061C.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROPPED = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{BIDI_CONTROLS}]")
# Characters no common file system takes in a name (Windows' list; `/` and `\` end a path part first).
_RESERVED = re.compile(r'[<>:"|?*]')
MAX_NAME = 200


def strip_bidi(text: str) -> str:
    """`text` without bidirectional controls (for any name shown that is not a file name)."""
    return _DROPPED.sub("", text) if text else text


def clean_name(name: str | None, *, default: str = "file", limit: int = MAX_NAME) -> str:
    """A file name safe to store, show and send: the last path part, NFC, without control characters (C0, C1),
    bidirectional controls or reserved characters, no leading or trailing dots and spaces, at most `limit`
    characters with its extension kept; `default` when nothing is left."""
    text = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/")
    text = PurePosixPath(_DROPPED.sub("", text)).name if "/" in text else _DROPPED.sub("", text)
    text = _RESERVED.sub("", text).strip(" .")
    if len(text) > limit:
        stem, dot, ext = text.rpartition(".")
        text = stem[: limit - len(ext) - 1] + "." + ext if dot and 0 < len(ext) <= 10 else text[:limit]
    return text or default


def with_extension(name: str, extension: str, *, also: tuple[str, ...] = ()) -> str:
    """`name` (cleaned) ending in `extension` (".jpg"): a suffix that is neither it nor one of `also` (".jpeg") is
    replaced, so that `jpeg_as.html` of a JPEG becomes `jpeg_as.jpg`."""
    cleaned = clean_name(name)
    stem, dot, ext = cleaned.rpartition(".")
    if dot and stem and f".{ext.lower()}" in (extension, *also):
        return cleaned
    base = stem if dot and stem else cleaned
    return clean_name(base[: MAX_NAME - len(extension)] + extension)


__all__ = ["BIDI_CONTROLS", "MAX_NAME", "clean_name", "strip_bidi", "with_extension"]
