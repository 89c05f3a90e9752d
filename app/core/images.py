"""Raster images we accept and print: their size read from the header alone, and print copies (issue 10.4).

A 446 KB PNG can declare 12000×12000 pixels and take a gigabyte to decode. So an upload's pixel count is read
from its header without decoding it (`pixel_size`) and refused past MAX_PIXELS; and what a form prints is a copy
at most PRINT_MAX_SIDE pixels on its longer side (`make_print_copy`), never the original.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

# A 50-megapixel phone photo (8160×6144) passes; decoding the largest accepted PNG takes about 200 MB.
MAX_PIXELS = 52_000_000
# A printed evidence photo is a few centimetres wide: 1600 px is well over 300 dpi there.
PRINT_MAX_SIDE = 1600
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}

log = logging.getLogger(__name__)


class ImageRefused(ValueError):
    """The file's header declares no image we can read, or one larger than MAX_PIXELS (`too_big`; `size` holds
    its size when known)."""

    def __init__(self, reason: str, size: tuple[int, int] | None = None, *, too_big: bool = False) -> None:
        super().__init__(reason)
        self.size = size
        self.too_big = too_big or size is not None


def _open_header(source: Path | bytes, formats: list[str] | None) -> tuple[int, int]:
    """(width, height) from the header; Pillow reads no pixel data until asked."""
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    with warnings.catch_warnings(record=True):  # past Pillow's warning limit: still only the header is read
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        try:
            with Image.open(fp, formats=formats) as im:
                return im.size
        except Image.DecompressionBombError as exc:  # past twice that limit Pillow gives no size
            raise ImageRefused("more pixels than Pillow's own limit", too_big=True) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
            raise ImageRefused(f"unreadable header: {type(exc).__name__}") from exc


def heic_size(path: Path, limit: int = 1024 * 1024) -> tuple[int, int]:
    """The largest `ispe` (image spatial extent) property in a HEIC file's first `limit` bytes: every HEIF image
    item must carry one, and the file's metadata comes before its media data."""
    with path.open("rb") as f:
        head = f.read(limit)
    best: tuple[int, int] | None = None
    at = head.find(b"ispe")
    while at != -1:
        if at >= 4 and at + 16 <= len(head):
            width, height = struct.unpack(">II", head[at + 8 : at + 16])  # after version and flags
            if best is None or width * height > best[0] * best[1]:
                best = (width, height)
        at = head.find(b"ispe", at + 4)
    if best is None or 0 in best:
        raise ImageRefused("no image size (ispe) in the HEIC header")
    return best


def pixel_size(path: Path, content_type: str) -> tuple[int, int]:
    """(width, height) of an accepted image from its header, raising ImageRefused past MAX_PIXELS."""
    if content_type == "image/heic":
        size = heic_size(path)
    else:
        size = _open_header(path, [PILLOW_FORMATS[content_type]] if content_type in PILLOW_FORMATS else None)
    if size[0] * size[1] > MAX_PIXELS:
        raise ImageRefused("too many pixels", size)
    return size


def bytes_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) when `data` is a raster image Pillow reads, None for anything else (fonts, CSS)."""
    try:
        return _open_header(data, None)
    except ImageRefused:
        return None


def make_print_copy(source: Path, target: Path, *, max_side: int = PRINT_MAX_SIDE) -> bool:
    """Write a JPEG of `source` at most `max_side` px on its longer side, upright (EXIF orientation applied),
    on white where it was transparent, without metadata. False (and nothing written) when the source is not an
    image we may decode: unreadable, or past MAX_PIXELS."""
    tmp = target.with_name(target.name + ".part")
    try:
        width, height = _open_header(source, None)
        if width * height > MAX_PIXELS:
            return False
        with Image.open(source) as im:
            im.draft("RGB", (max_side, max_side))  # a JPEG decodes at 1/2, 1/4 or 1/8 scale: fast and small
            im = ImageOps.exif_transpose(im)
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            if im.mode in ("RGBA", "LA", "P", "PA"):
                im = im.convert("RGBA")
                flat = Image.new("RGB", im.size, "white")
                flat.paste(im, mask=im.getchannel("A"))
                im = flat
            elif im.mode != "RGB":
                im = im.convert("RGB")
            target.parent.mkdir(parents=True, exist_ok=True)
            im.save(tmp, "JPEG", quality=85, optimize=True)
            os.replace(tmp, target)
        return True
    except (ImageRefused, OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as exc:
        log.warning("no print copy of %s: %s", source.name, exc)
        return False
    finally:
        tmp.unlink(missing_ok=True)


__all__ = [
    "MAX_PIXELS", "PRINT_MAX_SIDE", "ImageRefused", "bytes_size", "heic_size", "make_print_copy", "pixel_size",
]  # fmt: skip
