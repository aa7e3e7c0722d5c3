"""The solver registry: solvers by name, variants and composed solvers as registered entries.

Every way a solver is made carries its registered name: ``@register("greedy")``
sets ``GreedySolver.name``, and a named variant (``register("greedy-sum",
GreedySolver, defaults=...)``) is a subclass with its own name and defaults, so
``GreedySolver().solve(...)`` records ``"greedy"`` and ``make_solver("greedy-sum")``
records ``"greedy-sum"``. Composed solvers (:func:`solvers.compose.compose`) are
registered the same way.

**Where solvers come from.** Every module that registers solvers is named in the
``stringart.solvers`` entry-point group of its distribution (``pyproject.toml``:
the built-in ones, ``learned.solvers`` among them), loaded on first lookup. So
``solvers`` never imports the packages above it, and adding a solver is a module
plus one line there (``tests/solvers/test_registry.py`` checks that every module
that registers a solver is listed). A solver whose ``requires`` cannot be imported
here (``torch`` without the ``learned`` extra) stays listed, as unavailable with
the reason, and asking for it is one line naming the extra.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import metadata

from rendering import InputError

from .base import Solver, unavailable_reason


@dataclass(frozen=True)
class Entry:
    name: str
    cls: type[Solver]
    defaults: dict = field(default_factory=dict)
    description: str = ""

    @property
    def unavailable(self) -> str | None:
        """One line on what this solver needs to run here, or None when it can run."""
        return unavailable_reason(self.cls)


#: The solver ``bench solve`` uses when none is named: the best one within 0.5 s at 288 pins, 4000 lines,
#: 512 px (``results/quality``: it beats the C++ greedy Raveler on the viewing-scale SSIM and L1).
DEFAULT_SOLVER = "greedy-view"
#: the solver of ``bench solve`` for threads other than one black thread on white
DEFAULT_COLOUR_SOLVER = "colour-greedy"

_REGISTRY: dict[str, Entry] = {}
_plugins_loaded = False
_plugin_errors: dict[str, str] = {}


def register(name: str, cls: type | None = None, *, defaults: dict | None = None, description: str = ""):
    """Register ``cls`` under ``name`` (with config ``defaults`` for a named variant).

    Usable as a decorator (``@register("greedy")``) or a call. Refuses duplicates.
    The first registration of a class names it; registering an already named
    class again makes a variant: a subclass with this name and these defaults
    (returned, and listed as the entry's class).
    """

    def add(klass):
        if not (isinstance(klass, type) and issubclass(klass, Solver)):
            raise TypeError(f"{klass!r} is not a Solver subclass")
        if name in _REGISTRY:
            raise ValueError(f"a solver named {name!r} is already registered ({_REGISTRY[name].cls.__name__})")
        desc = description or ((klass.__doc__ or "").strip().splitlines() or [""])[0]
        if klass.__dict__.get("name"):  # already registered under another name: a named variant
            klass = type(klass.__name__, (klass,), {
                "name": name, "defaults": {**klass.defaults, **(defaults or {})}, "__module__": klass.__module__,
                "__qualname__": f"{klass.__qualname__}[{name}]", "__doc__": klass.__doc__})
        else:
            klass.name = name
            klass.defaults = dict(defaults or {})
        _REGISTRY[name] = Entry(name, klass, dict(klass.defaults), desc)
        return klass

    return add if cls is None else add(cls)


def solver_modules() -> list[str]:
    """The modules named in the ``stringart.solvers`` entry-point group (each registers solvers on import)."""
    return [ep.value for ep in metadata.entry_points(group="stringart.solvers")]


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group="stringart.solvers"):
        try:
            ep.load()  # importing the module registers its solvers
        except Exception as e:  # noqa: BLE001  (one broken plugin must not take the registry down with it)
            _plugin_errors[ep.name] = f"{type(e).__name__}: {e}"
            warnings.warn(f"solver plugin {ep.name!r} ({ep.value}) failed to import and is skipped: {e}",
                          RuntimeWarning, stacklevel=2)


def plugin_errors() -> dict[str, str]:
    """Plugins (entry points) that failed to import, with their error."""
    _load_plugins()
    return dict(_plugin_errors)


def solver_names(*, available: bool = False) -> list[str]:
    """Every registered name, by family (:data:`solvers.base.FAMILIES`), each family in registration order
    (``available``: only those that can run here)."""
    from .base import FAMILIES

    _load_plugins()
    rank = {f: i for i, f in enumerate(FAMILIES)}
    names = sorted(_REGISTRY, key=lambda n: rank.get(_REGISTRY[n].cls.family, len(rank)))
    return [n for n in names if not available or _REGISTRY[n].unavailable is None]


def get_entry(name: str) -> Entry:
    _load_plugins()
    if name not in _REGISTRY:
        raise InputError(f"unknown solver {name!r}; choose one of: {', '.join(solver_names())}")
    return _REGISTRY[name]


def make_solver(name: str, **config) -> Solver:
    """An instance of the registered solver ``name``; ``config`` overrides its defaults.

    A solver that cannot run here (its ``requires`` missing) is refused in one line naming the extra.

    >>> make_solver("random").name
    'random'
    """
    entry = get_entry(name)
    why = entry.unavailable
    if why is not None:
        raise InputError(f"solver {name} is not available in this install: it {why}")
    return entry.cls(**config)
