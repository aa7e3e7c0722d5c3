"""bench: the comparison harness, the report, the page (``bench serve``) and the ``bench`` command line.

Names are loaded on first use (PEP 562), so the command line starts without
scikit-image, pandas or matplotlib until a command needs them.

>>> from bench import solve
>>> result = solve("camera", solver="random", pins=64, lines=100, canvas=64, seed=0)
>>> sorted(result.metrics)[:3]
['l1', 'l1_full', 'psnr']
"""

from __future__ import annotations

import importlib

_EXPORTS = {"SolveResult": "single", "solve": "single", "run_study": "harness", "write_report": "report"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
