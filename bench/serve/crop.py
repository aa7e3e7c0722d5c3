"""Where the crop frame starts on a new photo: one function, behind ``POST /api/crop``.

The page asks the API and never computes a crop itself. With the ``faces`` extra the suggestion is ``bench
solve --crop auto``'s (:func:`rendering.faces.auto_crop`: the largest face as head and shoulders, else the most
salient subject); without it, the largest centred square (``--crop center``).
"""

from __future__ import annotations


def _centred(width: int, height: int) -> str:
    size = min(int(width), int(height))
    return f"{(int(width) - size) // 2},{(int(height) - size) // 2},{size}"


def suggest_crop(width: int, height: int, data: bytes | None = None, suffix: str = ".jpg") -> str:
    """The starting crop of a ``width`` x ``height`` photo (its pixels as shown, EXIF orientation applied) as
    ``"LEFT,TOP,SIZE"``: ``--crop auto``'s square when the photo's bytes ``data`` are given and the ``faces``
    extra is installed, else the largest centred square. ``suffix``: the photo's file suffix (how it is read).

    >>> suggest_crop(640, 480)
    '80,0,480'
    """
    if data is None:
        return _centred(width, height)
    import os
    import tempfile

    from rendering import InputError
    from rendering.faces import auto_crop, check_available
    from rendering.target import read_picture

    try:
        check_available()
    except InputError:
        return _centred(width, height)
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        _, rgb, _ = read_picture(tmp)
    finally:
        os.unlink(tmp)
    if rgb.shape[:2] != (int(height), int(width)):  # not the pixels the page shows: keep to the safe square
        return _centred(width, height)
    left, top, size = auto_crop(rgb)
    return f"{left},{top},{size}"
