"""bench: the comparison harness, the report, the page (``bench serve``) and the ``bench`` command line.

Names are loaded on first use (PEP 562), so the command line starts without
scikit-image, pandas or matplotlib until a command needs them.

>>> from bench import solve
>>> result = solve("camera", solver="random", pins=64, lines=100, canvas=64, seed=0)
>>> sorted(result.metrics)[:3]
['l1', 'l1_full', 'psnr']
"""

from __future__ import annotations

from rendering.lazy import lazy_exports

_EXPORTS = {"SolveResult": "single", "solve": "single", "run_study": "harness", "write_report": "report"}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
