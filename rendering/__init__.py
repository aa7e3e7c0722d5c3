"""rendering: the shared rasterizer of the string-art toolkit.

Pin layouts, chords and the cached chord table, the physical thread model, and
the renderers (Numba CPU; differentiable torch in :mod:`rendering.torch_render`;
CUDA in :mod:`rendering.device`). Every solver, loss and metric draws through
this package, so numbers from different solvers compare.

Names are loaded on first use (PEP 562), so ``from rendering import InputError``
costs nothing, and numba is imported only when a kernel runs. (No public name
is also the name of a submodule, which a lazy package could not tell apart:
the renderers live in :mod:`rendering.raster`.)
"""

from __future__ import annotations

from .lazy import lazy_exports

#: public name -> the submodule that defines it
_EXPORTS = {
    "ChordSet": "chords", "ChordTable": "chords", "build_chord_table": "chords", "cache_dir": "cache",
    "check_min_gap": "chords", "clear_memory_cache": "chords", "get_chord_set": "chords",
    "get_chord_table": "chords", "is_cached": "chords", "table_size": "chords",
    "InputError": "errors",
    "Face": "faces", "auto_crop": "faces", "detect_faces": "faces", "face_weights": "faces",
    "PinLayout": "layout", "default_min_gap": "layout",
    "VIEW_SCALE": "raster", "chord_means": "raster", "coverage_sum": "raster", "render": "raster",
    "render_model": "raster", "render_opaque": "raster", "view_scale": "raster", "needs_compiling": "raster",
    "BUILTIN_IMAGES": "target", "Target": "target", "builtin_names": "target", "load_target": "target",
    "prepare_image": "target", "read_image": "target", "thumbprint": "target", "same_picture": "target",
    "seen_in": "target",
    "MODELS": "thread", "ThreadModel": "thread",
    "Palette": "colour", "THREAD_COLOURS": "colour", "auto_palette": "colour", "parse_colour": "colour",
    "parse_palette": "colour", "render_colour": "colour", "render_snapshots": "raster",
    "PictureModel": "picture", "picture_model": "picture",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
