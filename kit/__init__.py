"""kit: the maker's layer -- result files, the build kit, winding, calibration -- above the solvers.

It reads a :class:`~solvers.Solution` (or a result written by ``bench solve``), its
:class:`~rendering.PinLayout` and :class:`~rendering.ThreadModel`, and writes files; it never
re-solves, and nothing below it (``rendering``, ``solvers``, ``learned``) imports it. The pieces:

* :mod:`~kit.results`: the one writer (``write_result``) and the one reader (``load_solution``) of results.
* :mod:`~kit.geometry`: the frame in millimetres, pin spacing check, thread lengths.
* :mod:`~kit.drawing` and :mod:`~kit.pages`: one display list drawn as SVG and
  with matplotlib (PDF pages), paper sizes.
* :mod:`~kit.template`: the drill template (SVG at 1:1, PDF tiled on A4/Letter).
* :mod:`~kit.instructions`: the winding list (TXT and PDF).
* :mod:`~kit.replay`: the thread forming line by line (GIF, MP4, stages grid).
* :mod:`~kit.preview`: a realistic preview at physical scale.
* :mod:`~kit.build`: all of it, written atomically (``build_kit``, ``KitOptions``).
* :mod:`~kit.wind`: the terminal winding assistant's state and screens.
* :mod:`~kit.calibrate`: the thread calibration sheet and its photo fit; its output is a
  :class:`~rendering.ThreadModel` the solvers read.

Names load on first use (PEP 562): importing the package costs nothing.
"""

from __future__ import annotations

from rendering.lazy import lazy_exports

_EXPORTS = {
    "LoadedResult": "results", "load_solution": "results", "find_result_json": "results",
    "solution_from_doc": "results", "write_result": "results", "result_files": "results", "FORMATS": "results",
    "Geometry": "geometry", "check_pin_spacing": "geometry", "thread_budget": "geometry",
    "KitOptions": "build", "KitResult": "build", "build_kit": "build", "check_kit": "build",
    "kit_files": "build", "KIT_FILES": "build",
    "parse_paper": "pages",
    "Winder": "wind",
    "calibration_sheet": "calibrate", "fit_photo": "calibrate", "synthetic_photo": "calibrate",
    "CalibrationFit": "calibrate",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
