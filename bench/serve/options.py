"""The page's solve options: read from ``bench solve``'s own signature, parsed from a form, checked before a job.

The options, their defaults and their one-line help come from the CLI's definitions
(:func:`bench.solve_cmd.solve_cmd` and the kit's ``--paper`` / ``--pin-mm`` in :func:`bench.kit_cmd.kit_cmd`),
so the page and ``bench solve`` cannot drift apart: ``GET /api/solvers`` serves :func:`option_specs` and the
page builds its form from it. :func:`parse_form` turns form fields (named like the CLI's options, with ``_``:
``pins``, ``frame_mm``, ...) into :func:`bench.single.solve`'s arguments; :func:`check_options` runs the checks
``bench solve`` makes before it loads a picture, with the same library calls, so a bad option is refused with
the CLI's one line before anything is written. Errors are :class:`rendering.InputError`; the API turns them
into ``{"error": line}`` with :func:`bench.cli_common.error_line`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing

from rendering import InputError

#: options of ``bench solve`` the page does not take: the picture is the upload, the folder the job's own,
#: timings are always recorded
EXCLUDED = {"image", "out", "timings"}
#: solver options (``-O KEY=VALUE``) the page refuses: they name files on the server (a learned solver's
#: checkpoint is a pickle, which can run code when loaded)
REFUSED_SOLVER_OPTIONS = {"checkpoint"}
#: the page's defaults where they differ from ``bench solve``'s (the page is for makers: the kit is on)
PAGE_DEFAULTS = {"kit": True}
#: choices of options whose values are a closed set (``importance`` also takes a mask file in the CLI: not here)
CHOICES = {"shape": ["circle", "square"], "exposure": ["off", "auto", "force"],
           "importance": ["edges", "saliency", "both"], "device": ["auto", "cpu", "cuda"],
           "paper": ["A4", "Letter", "A3", "Legal"], "faces": ["auto", "on", "off"]}
#: the first options the make page shows; the rest go under "more options"
BASIC = ("solver", "pins", "lines", "frame_mm", "thread_mm", "board", "colors")
#: the kit's options the page takes (from ``bench kit``)
KIT_OPTIONS = ("paper", "pin_mm")


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """One option of the page, as ``bench solve`` (or ``bench kit``) defines it.

    Attributes
    ----------
    name : the form field (the library's name: ``frame_mm``)
    flag : the CLI option (``--frame-mm``), which error messages name
    kind : ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"list"`` (repeatable: ``option``)
    default : the default (None: the library decides, e.g. ``min_gap``)
    help : the CLI's one-line help
    choices : the allowed values, where they are a closed set (None: free text)
    optional : whether an empty field means "the default, None"
    group : ``"basic"``, ``"more"`` or ``"kit"``
    """

    name: str
    flag: str
    kind: str
    default: object
    help: str
    choices: list | None = None
    optional: bool = False
    group: str = "more"

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def _kind(tp) -> tuple[str, bool]:
    """``("int" | "float" | "bool" | "str" | "list", optional)`` of an annotation (``Optional[int]`` ...)."""
    args = typing.get_args(tp)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), tp) if optional else tp
    if typing.get_origin(base) is list:
        return "list", optional
    return {int: "int", float: "float", bool: "bool"}.get(base, "str"), optional


def _specs_of(fn, names=None, group=None) -> list[OptionSpec]:
    hints = typing.get_type_hints(fn, include_extras=True)
    params = inspect.signature(fn).parameters
    out = []
    for name, param in params.items():
        if name in EXCLUDED or (names is not None and name not in names):
            continue
        info = getattr(hints[name], "__metadata__", (None,))[0]
        kind, optional = _kind(typing.get_args(hints[name])[0] if info is not None else hints[name])
        decl = getattr(info, "default", None)  # typer keeps the first option name here when Annotated
        flag = decl if isinstance(decl, str) and decl.startswith("--") else "--" + name.replace("_", "-")
        text = " ".join(str(getattr(info, "help", "") or "").split())
        default = PAGE_DEFAULTS.get(name, param.default)
        if name == "lines":
            default = str(default)
        out.append(OptionSpec(name=name, flag=flag, kind=kind, default=default, help=text,
                              choices=CHOICES.get(name), optional=optional,
                              group=group or ("basic" if name in BASIC else "more")))
    return out


@functools.lru_cache(maxsize=1)
def option_specs() -> tuple[OptionSpec, ...]:
    """Every option the page takes: ``bench solve``'s (less the picture, the folder and ``--timings``), then the
    kit's paper and pin size (``bench kit``'s)."""
    from bench import kit_cmd, solve_cmd

    specs = _specs_of(solve_cmd.solve_cmd) + _specs_of(kit_cmd.kit_cmd, KIT_OPTIONS, "kit")
    by = {s.name: s for s in specs}
    by["kit"] = dataclasses.replace(by["kit"], group="kit",
                                    help="Also make the maker's kit (template, instructions, replay, previews) "
                                         "after the solve. [page default: on]")
    order = list(BASIC) + [s.name for s in specs if s.name not in BASIC]
    return tuple(by[n] for n in order if n in by)


def specs_by_name() -> dict[str, OptionSpec]:
    return {s.name: s for s in option_specs()}


@functools.lru_cache(maxsize=1)
def _cli_params() -> dict:
    """``name -> (parameter, context)`` of ``bench solve``'s options (then ``bench kit``'s), as the CLI parses
    them: a form value goes through the same conversion, so a value of the wrong type gets the CLI's words."""
    import typer
    import typer.main

    from bench import kit_cmd, solve_cmd

    app = typer.Typer()  # the two commands as the CLI registers them (bench.cli imports this package's command)
    app.command("solve")(solve_cmd.solve_cmd)
    app.command("kit")(kit_cmd.kit_cmd)
    group = typer.main.get_command(app)
    out: dict = {}
    for command in ("solve", "kit"):
        cmd = group.commands[command]  # type: ignore[attr-defined]
        ctx = cmd.make_context(command, ["x"], resilient_parsing=True)
        for param in cmd.params:
            out.setdefault(param.name, (param, ctx))
    return out


def _convert(spec: OptionSpec, text: str):
    """A form value as the option's type, converted as the CLI converts it (and refused in its words)."""
    text = text.strip()
    if text == "" and spec.optional:
        return None
    if spec.kind in ("int", "float", "bool"):
        if spec.kind == "bool" and text == "":
            return False
        param, ctx = _cli_params()[spec.name]
        try:
            return param.process_value(ctx, text)
        except Exception as e:
            if not hasattr(e, "format_message"):
                raise
            raise InputError(str(e.format_message()).splitlines()[0]) from None
    if spec.choices is not None and spec.name != "paper" and text not in spec.choices:
        raise InputError(f"{spec.flag} must be one of {', '.join(spec.choices)}, got '{text}'; e.g. "
                         f"{spec.flag} {spec.choices[0]}")
    return text


def parse_form(fields: list[tuple[str, str]]) -> dict:
    """Form fields (name, text) -> the page's options: every option present, with its default where not given.

    Unknown fields and a field given twice (other than the repeatable ``option``) are refused in one line.

    >>> parse_form([("pins", "96"), ("lines", "auto")])["pins"]
    96
    """
    specs = specs_by_name()
    seen: dict[str, object] = {}
    for name, text in fields:
        spec = specs.get(name)
        if spec is None:
            raise InputError(f"unknown option '{name}'; the form takes {', '.join(specs)} (as bench solve's "
                             f"options, with _ for -)")
        if spec.kind == "list":
            if str(text).strip():
                seen.setdefault(name, []).append(str(text).strip())  # type: ignore[union-attr]
            continue
        if name in seen:
            raise InputError(f"option '{name}' is given twice; give it once")
        seen[name] = _convert(spec, str(text))
    out = {s.name: ([] if s.kind == "list" else s.default) for s in specs.values()}
    out.update(seen)
    if out.get("solver") in ("", None):
        from bench.single import default_solver

        out["solver"] = default_solver(out.get("colors"), out.get("board"))
    for key in ("colors", "board", "importance"):
        if out.get(key) == "":
            out[key] = None
    return out


def lines_value(text):
    """``lines``: a whole number or ``"auto"`` (``bench solve --lines``'s rule and message)."""
    from bench.solve_cmd import _lines

    return _lines(text)


def solver_options(options: dict) -> dict:
    """The solver's own options (``option``: ``KEY=VALUE`` items, as ``-O``), with ``device`` where it takes one;
    the keys the page refuses (:data:`REFUSED_SOLVER_OPTIONS`) in one line."""
    from bench.cli_common import parse_key_values

    extra = parse_key_values(options.get("option"), option="-O", example="refine_sweeps=2")
    for key in extra:
        if key in REFUSED_SOLVER_OPTIONS:
            raise InputError(f"solver option {key} names a file on the server and is not taken by the page; "
                             f"run bench solve -O {key}=... instead")
    fields = {f.name for f in dataclasses.fields(_entry(options["solver"]).cls.Config)}
    device = options.get("device") or "auto"
    if device not in CHOICES["device"]:
        raise InputError(f"--device must be auto, cpu or cuda, got '{device}'; e.g. --device auto")
    if "device" in fields and "device" not in extra:
        extra["device"] = device  # resolved in the worker (probing for a GPU is the worker's business)
    elif device == "cuda" and "device" not in fields:
        raise InputError(f"solver {options['solver']} runs on the CPU only, got --device cuda; use --device auto "
                         f"or cpu")
    return extra


def _entry(name):
    from solvers import get_entry

    return get_entry(name)


def check_options(options: dict, width: int, height: int) -> dict:
    """Check a job's options against a picture of ``width`` x ``height`` pixels, as ``bench solve`` checks them
    before the long work, with the same calls (so the same one-line messages); returns the arguments of
    :func:`bench.single.solve` (less the picture and the folder).

    Raises :class:`rendering.InputError` (one line, the library's names: map them with
    :func:`bench.cli_common.error_line`).
    """
    import numpy as np

    from rendering import PinLayout, ThreadModel, default_min_gap
    from rendering.chords import check_min_gap, check_table_fits
    from rendering.colour import check_palette_spec, threads_for
    from rendering.faces import check_available, check_faces_mode
    from rendering.target import MIN_IMAGE_SIDE, crop_square
    from solvers import make_solver

    o = dict(options)
    lines = lines_value(o["lines"])
    name = o["solver"]
    entry = _entry(name)
    extra = solver_options(o)
    if lines == "auto":
        if "early_stop" not in {f.name for f in dataclasses.fields(entry.cls.Config)}:
            raise InputError(f"--lines auto needs a solver that can stop where no line helps (the greedy family), "
                             f"not {name}; give a number of lines")
        make_solver(name, **{**extra, "early_stop": True})
    else:
        make_solver(name, **extra)
    thread = ThreadModel(frame_mm=o["frame_mm"], thread_mm=o["thread_mm"], opacity=o["opacity"])
    layout = PinLayout(n_pins=o["pins"], canvas=o["canvas"], shape=o["shape"], jitter=o["jitter"])
    gap = default_min_gap(o["pins"]) if o["min_gap"] is None else o["min_gap"]
    check_min_gap(gap, o["pins"])
    check_table_fits(layout, gap, thread.width_px(layout.span_px))
    k, _ = check_palette_spec(threads_for(o["colors"], o["board"]) or "black", o["board"])
    if lines != "auto" and k > lines:
        raise InputError(f"{k} colours need at least {k} lines, got {lines}; ask for more lines or fewer colours")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise InputError(f"image 'upload' is {width}x{height} pixels; expected at least "
                         f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}, use a larger picture")
    if o["crop"] != "auto":  # auto: chosen on the picture (the faces extra, checked with --faces below)
        crop_square(np.broadcast_to(np.float32(0), (height, width)), o["crop"], name="upload")  # only slices
    if check_faces_mode(o["faces"]) == "on" or o["crop"] == "auto":
        check_available()
    if o["kit"]:
        from kit import KitOptions, check_kit

        check_kit(layout, thread, KitOptions(paper=o["paper"], pin_mm=o["pin_mm"]))
    return dict(solver=name, pins=o["pins"], lines=lines, canvas=o["canvas"], min_gap=o["min_gap"], seed=o["seed"],
                shape=o["shape"], jitter=o["jitter"], frame_mm=o["frame_mm"], thread_mm=o["thread_mm"],
                opacity=o["opacity"], contrast=o["contrast"], gamma=o["gamma"], exposure=o["exposure"],
                clahe=o["clahe"], crop=o["crop"], importance=o["importance"],
                importance_strength=o["importance_strength"], colors=o["colors"], board=o["board"],
                faces=o["faces"], solver_options=extra)


def solvers_doc() -> dict:
    """``GET /api/solvers``: every registered solver (family, description, availability, its own options and
    their defaults), the defaults, the compare page's default set, the thread colours and the page's options."""
    from rendering import THREAD_COLOURS
    from rendering.colour import hex_of, parse_colour
    from solvers import DEFAULT_COLOUR_SOLVER, DEFAULT_SOLVER, solver_names

    solvers = []
    for n in solver_names():
        e = _entry(n)
        config = []
        for f in dataclasses.fields(e.cls.Config):
            default = e.defaults.get(f.name, f.default)
            if default is dataclasses.MISSING:
                default = None
            config.append({"name": f.name, "default": default if isinstance(default, (int, float, str, bool,
                                                                                      type(None))) else str(default)})
        solvers.append({"name": n, "family": e.cls.family, "description": e.description,
                        "steps": list(getattr(e.cls, "composition", ())), "available": e.unavailable is None,
                        "unavailable": e.unavailable, "options": config})
    colours = {n: hex_of(parse_colour(n)[1]) for n in THREAD_COLOURS}
    return {"default": DEFAULT_SOLVER, "default_colour": DEFAULT_COLOUR_SOLVER, "compare": compare_default(),
            "solvers": solvers, "options": [s.as_json() for s in option_specs()], "thread_colours": colours}


#: the compare page's set: the classical ladder, then the first learned solver this install can run
COMPARE_CLASSICAL = ("greedy", "greedy-view", "greedy-view+refine")
COMPARE_LEARNED = ("ae-target+greedy", "ae+greedy", "ae-chords")


def compare_default() -> list[str]:
    """The compare page's default solvers: greedy, greedy-view, greedy-view+refine and one learned solver where
    one is installed (``get_entry(name).unavailable is None``)."""
    from solvers import solver_names

    names = set(solver_names())
    out = [n for n in COMPARE_CLASSICAL if n in names]
    out += [n for n in COMPARE_LEARNED if n in names and _entry(n).unavailable is None][:1]
    return out
