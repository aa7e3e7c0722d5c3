"""Where the crop frame starts on a new photo: one function, behind ``POST /api/crop``.

Today a centred square (the largest, as ``bench solve --crop center`` takes); a face-aware suggestion
(``--crop auto``) replaces :func:`suggest_crop` alone: the page asks the API and never computes it itself.
"""

from __future__ import annotations


def suggest_crop(width: int, height: int, data: bytes | None = None) -> str:
    """The starting crop of a ``width`` x ``height`` photo (its pixels as shown, EXIF orientation applied) as
    ``"LEFT,TOP,SIZE"``: the largest centred square. ``data`` (the photo's bytes) is for suggestions that look
    at the picture; this one does not.

    >>> suggest_crop(640, 480)
    '80,0,480'
    """
    size = min(int(width), int(height))
    return f"{(int(width) - size) // 2},{(int(height) - size) // 2},{size}"
