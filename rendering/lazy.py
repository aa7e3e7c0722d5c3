"""Loading on first use: the packages' public names (PEP 562) and the numba kernel modules.

Two pieces every package of the toolkit shares:

* :func:`lazy_exports` gives a package its ``__getattr__`` and ``__dir__``: ``from rendering import InputError``
  imports only :mod:`rendering.errors`, so the command line starts without numba, scikit-image, pandas or
  matplotlib until a command needs them.
* :func:`lazy_import` stands in for a kernel module (which imports numba and defines its kernels at import):
  the module is imported on the first attribute read, so listing solvers or a solve that needs no kernel never
  loads numba. It is safe from several threads at once (importlib's own ``LazyLoader`` is not on Python 3.11:
  a first use inside a thread pool could see a half-made module).
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Any, Callable

_LOCK = threading.Lock()


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``(__getattr__, __dir__)`` of a package whose public names live in submodules.

    ``exports`` maps a public name to the submodule that defines it (``{"InputError": "errors"}``); a name is
    imported on its first use and then kept in the package's namespace, so later look-ups cost nothing.

    >>> getattr_, dir_ = lazy_exports("rendering", {"InputError": "errors"})
    >>> getattr_("InputError").__name__, "InputError" in dir_()
    ('InputError', True)
    """

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        importlib.import_module(package).__dict__[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list:
        return sorted(set(importlib.import_module(package).__dict__) | set(exports))

    return __getattr__, __dir__


class _LazyModule:
    """A module imported on the first attribute read (under a lock); each attribute is then kept on the proxy,
    so a kernel called in a loop costs one plain attribute read."""

    def __init__(self, name: str):
        self.__name = name
        self.__module: ModuleType | None = None

    def __getattr__(self, attr: str):
        module = self.__module
        if module is None:
            with _LOCK:
                if self.__module is None:
                    self.__module = importlib.import_module(self.__name)
                module = self.__module
        value = getattr(module, attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self.__name!r}{'' if self.__module is None else ' (loaded)'}>"


def lazy_import(name: str) -> Any:
    """Module ``name``, imported on its first attribute read (thread-safe; see the module's docstring).

    >>> m = lazy_import("json")
    >>> m.dumps([1])
    '[1]'
    """
    return _LazyModule(name)
