"""solvers.kit: the maker's build kit, from any solver's result to a wound frame.

It reads a :class:`~solvers.Solution` (or a result JSON written by ``bench solve``), its
:class:`~rendering.PinLayout` and :class:`~rendering.ThreadModel`, and writes files; it never
re-solves. The pieces:

* :mod:`~solvers.kit.result`: a result folder, JSON or TXT pin file -> a Solution (``load_result``).
* :mod:`~solvers.kit.geometry`: the frame in millimetres, pin spacing check, thread lengths.
* :mod:`~solvers.kit.drawing` and :mod:`~solvers.kit.pages`: one display list drawn as SVG and
  with matplotlib (PDF pages), paper sizes.
* :mod:`~solvers.kit.template`: the drill template (SVG at 1:1, PDF tiled on A4/Letter).
* :mod:`~solvers.kit.instructions`: the winding list (TXT and PDF).
* :mod:`~solvers.kit.replay`: the thread forming line by line (GIF, MP4, stages grid).
* :mod:`~solvers.kit.preview`: a realistic preview at physical scale.
* :mod:`~solvers.kit.build`: all of it, written atomically (``build_kit``, ``KitOptions``).
* :mod:`~solvers.kit.wind`: the terminal winding assistant's state and screens.
* :mod:`~solvers.kit.calibrate`: the thread calibration sheet and its photo fit.

Names load on first use (PEP 562): importing the package costs nothing.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "LoadedResult": "result", "load_result": "result", "find_result_json": "result",
    "solution_from_doc": "result",
    "Geometry": "geometry", "check_pin_spacing": "geometry", "thread_budget": "geometry",
    "KitOptions": "build", "KitResult": "build", "build_kit": "build", "check_kit": "build",
    "kit_files": "build", "KIT_FILES": "build",
    "parse_paper": "pages",
    "Winder": "wind",
    "calibration_sheet": "calibrate", "fit_photo": "calibrate", "synthetic_photo": "calibrate",
    "CalibrationFit": "calibrate",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'solvers.kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
