"""rendering: the shared rasterizer of the string-art toolkit.

Pin layouts, chords and the cached chord table, the physical thread model, and
the renderers (Numba CPU; differentiable torch in :mod:`rendering.torch_render`,
imported on demand so the CPU path never loads torch). Every solver, loss and
metric draws through this package, so numbers from different solvers compare.
"""

from .chords import (ChordSet, ChordTable, build_chord_table, cache_dir, check_min_gap, clear_memory_cache,
                     get_chord_set, get_chord_table)
from .errors import InputError
from .layout import PinLayout, default_min_gap
from .render import VIEW_SCALE, chord_means, coverage_sum, render, render_model, render_opaque, view_scale
from .target import BUILTIN_IMAGES, Target, builtin_names, load_target, prepare_image, read_image
from .thread import MODELS, ThreadModel

__all__ = [
    "BUILTIN_IMAGES", "MODELS", "VIEW_SCALE", "ChordSet", "ChordTable", "InputError", "PinLayout", "Target", "ThreadModel",
    "build_chord_table", "builtin_names", "cache_dir", "chord_means", "check_min_gap", "clear_memory_cache", "coverage_sum",
    "default_min_gap", "get_chord_set", "get_chord_table", "load_target", "prepare_image", "render", "render_model",
    "render_opaque", "read_image", "view_scale",
]
