"""Uploads: the request body read under a size cap, the form parsed, the photo checked before anything is written.

A refused upload writes nothing: the body is held in memory (at most :data:`MAX_UPLOAD_BYTES`), the photo is
opened from those bytes, its size read from its header and refused above :data:`MAX_PIXELS` (a decompression
bomb: a small file of a huge picture) before it is decoded, then decoded once to be sure it is whole. Only a
photo that passed is written, into its job's folder.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from rendering import InputError

#: the largest request body the page takes (a photo and its options)
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
#: the most pixels a photo may have (a 60-megapixel camera's are 9504 x 6336)
MAX_PIXELS = 80_000_000
#: formats the page takes, by Pillow's name -> the file suffix the photo is kept with
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic", "AVIF": ".avif", "BMP": ".bmp",
           "TIFF": ".tif", "GIF": ".gif"}


class UploadError(InputError):
    """An upload refused: ``status`` is the HTTP status to answer with (400, or 413 for too large)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Photo:
    """A checked photo: its bytes, Pillow's format name, the suffix to keep it with, and its size after the
    EXIF orientation (the crop's coordinates are in these pixels)."""

    data: bytes
    format: str
    suffix: str
    width: int
    height: int
    filename: str


def _register_heif() -> bool:
    """Let Pillow open HEIC/HEIF photos where pillow-heif is installed; whether it is."""
    try:
        from pillow_heif import register_heif_opener  # type: ignore[import-not-found]
    except ImportError:
        return False
    register_heif_opener()
    return True


async def read_body(request, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """The request body, refused (413, one line) past ``limit`` bytes: by its Content-Length before it is read,
    and by counting while it is read (a body sent in chunks has none)."""
    declared = request.headers.get("content-length")
    mb = limit / (1024 * 1024)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadError(f"upload of {int(declared) / 1e6:.1f} MB is larger than the {mb:g} MB the page takes; "
                          f"send a smaller photo (e.g. save it as JPEG)", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadError(f"upload is larger than the {mb:g} MB the page takes; send a smaller photo (e.g. "
                              f"save it as JPEG)", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_form(request, body: bytes) -> tuple[list[tuple[str, str]], dict]:
    """``(fields, files)`` of a multipart (or urlencoded) body already read: text fields in order as
    ``(name, text)``, files as ``{name: (filename, bytes)}``."""
    from starlette.requests import Request

    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    ctype = request.headers.get("content-type", "")
    if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise UploadError(f"expected a form (multipart/form-data), got content type '{ctype or 'none'}'; send the "
                          f"photo in field 'image' and the options as fields")
    try:
        form = await Request(request.scope, replay).form(max_files=2, max_fields=200)
    except Exception as e:  # noqa: BLE001  (the multipart parser's errors have no common base: each is one line)
        raise UploadError(f"the form could not be read ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                          f"send multipart/form-data with the photo in field 'image'") from None
    fields, files = [], {}
    try:
        for name, value in form.multi_items():
            if hasattr(value, "read"):
                files[name] = (value.filename or "photo", await value.read())
            else:
                fields.append((name, str(value)))
    finally:
        await form.close()
    return fields, files


def check_photo(data: bytes, filename: str = "photo", *, max_pixels: int = MAX_PIXELS) -> Photo:
    """Check an uploaded photo without writing anything: a format the page takes, at most ``max_pixels``
    (read from the header, before decoding), and whole (decoded once). Raises :class:`UploadError`."""
    from PIL import Image, UnidentifiedImageError

    name = filename or "photo"
    if not data:
        raise UploadError("no photo: field 'image' is empty; pick a JPEG, PNG or WebP photo")
    heif = _register_heif()
    head = data[:64]
    if not heif and b"ftyp" in head[:16] and any(b in head[8:32] for b in (b"heic", b"heix", b"mif1", b"hevc")):
        raise UploadError(f"'{name}' is a HEIC photo, which needs pillow-heif on the server; pip install pillow-heif, "
                          f"or send it as JPEG")
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
            w, h = im.size
            if fmt not in FORMATS:
                raise UploadError(f"'{name}' is a {fmt or 'picture'} file; the page takes JPEG, PNG or WebP (HEIC with "
                                  f"pillow-heif); save it as JPEG")
            if w * h > max_pixels:
                raise UploadError(f"'{name}' is {w}x{h} pixels ({w * h / 1e6:.0f} MP), more than the "
                                  f"{max_pixels / 1e6:.0f} MP the page takes; scale it down first", 413)
            orientation = im.getexif().get(0x0112, 1)
            if fmt == "JPEG":
                im.draft("L", (max(1, w // 8), max(1, h // 8)))  # decoded at 1/8 scale: still every byte read
            im.load()  # decoded once: a truncated or corrupt file is refused here
    except UploadError:
        raise
    except UnidentifiedImageError:
        raise UploadError(f"'{name}' is not a picture the page can read; send a JPEG, PNG or WebP photo") from None
    except Image.DecompressionBombError:
        raise UploadError(f"'{name}' is too many pixels to open safely; scale it down first", 413) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UploadError(f"'{name}' could not be read ({str(e).splitlines()[0] if str(e) else 'corrupt'}); send "
                          f"a whole JPEG, PNG or WebP photo") from None
    width, height = (h, w) if orientation in (5, 6, 7, 8) else (w, h)  # as shown: EXIF turns it a quarter
    return Photo(data=data, format=fmt, suffix=FORMATS[fmt], width=width, height=height, filename=name)


def safe_filename(name: str, suffix: str) -> str:
    """The photo's file name in its job's folder: its own stem, letters, digits, ``-`` and ``_`` only (the
    result's files are named after it), and the suffix of its format.

    >>> safe_filename("../My photo (1).JPG", ".jpg")
    'My-photo-1.jpg'
    """
    import re
    from pathlib import PurePosixPath, PureWindowsPath

    stem = PureWindowsPath(PurePosixPath(name or "photo").name).stem
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:60] or "photo"
    if stem.lower() in ("job", "target", "preview", "template", "instructions", "replay", "stages"):
        stem = "photo-" + stem
    return stem + suffix
