"""The winding assistant's state and screens (``bench wind`` is the terminal around it).

A :class:`Winder` knows the thread (the pins in order), how many lines are wound, and where its
progress file lives (``<result>.wind.json`` beside the result JSON). :meth:`Winder.screen` is plain
text: the next pin in large digits, the block, the progress and the thread used; :meth:`Winder.run`
reads keys from any function that returns one (one key at a time in a terminal, a script in tests):
Enter or space for the next line, ``b`` (or Backspace, left arrow) back, ``q`` (or Ctrl-C, Ctrl-D, end
of input) to quit. Progress is saved after every key, atomically, so a closed terminal loses nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from rendering import InputError

from .results import PROGRESS_SUFFIX

NEXT_KEYS = {"\r", "\n", " ", "\x1b[C", "\x1b[B", "n"}
BACK_KEYS = {"b", "B", "\x7f", "\x08", "\x1b[D", "\x1b[A", "p"}
QUIT_KEYS = {"q", "Q", "\x03", "\x04", "\x1b", ""}

# a 3x5 font: each "#" is drawn two characters wide
_FONT = {
    "0": ["###", "# #", "# #", "# #", "###"], "1": [" # ", "## ", " # ", " # ", "###"],
    "2": ["###", "  #", "###", "#  ", "###"], "3": ["###", "  #", "###", "  #", "###"],
    "4": ["# #", "# #", "###", "  #", "  #"], "5": ["###", "#  ", "###", "  #", "###"],
    "6": ["###", "#  ", "###", "# #", "###"], "7": ["###", "  #", "  #", "  #", "  #"],
    "8": ["###", "# #", "###", "# #", "###"], "9": ["###", "# #", "###", "  #", "###"],
    "-": ["   ", "   ", "###", "   ", "   "], " ": ["   ", "   ", "   ", "   ", "   "],
}


def big_text(text: str, *, ascii_only: bool = False) -> list[str]:
    """Five lines that spell ``text`` (digits, ``-`` and spaces) in large blocks.

    >>> print("\\n".join(big_text("17", ascii_only=True)))
      ##    ######
    ####        ##
      ##        ##
      ##        ##
    ######      ##
    """
    ink = "##" if ascii_only else "██"
    rows = []
    for r in range(5):
        rows.append("  ".join(_FONT.get(ch, _FONT[" "])[r].replace("#", "\0").replace(" ", "  ").replace("\0", ink)
                              for ch in text).rstrip())
    return rows


def progress_path(json_path) -> Path:
    p = Path(json_path)
    return p.with_name(p.stem + PROGRESS_SUFFIX)


def _fingerprint(pairs: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pairs, dtype=np.int64).tobytes()).hexdigest()[:16]


class Winder:
    """Where the maker is in the thread, and the screens that show it.

    Parameters
    ----------
    geo : :class:`~kit.geometry.Geometry` (pins, lines, thread lengths)
    progress_file : where progress is saved (None: not saved)
    title : shown at the top
    ascii_only : draw the big digits with ``#`` (terminals without Unicode)
    """

    def __init__(self, geo, progress_file=None, *, title: str = "", ascii_only: bool = False):
        self.geo = geo
        self.n = geo.n_lines
        self.progress_file = Path(progress_file) if progress_file is not None else None
        self.title = title
        self.ascii_only = ascii_only
        self.done = 0
        self.fingerprint = _fingerprint(geo.pairs)
        self.note = ""

    # ------------------------------------------------------------------ progress
    def check_writable(self) -> None:
        """:class:`InputError` (one line) when the progress file cannot be written."""
        import os

        if self.progress_file is None:
            return
        folder = self.progress_file.parent
        p = self.progress_file
        if not os.access(folder, os.W_OK | os.X_OK) or (p.exists() and (not p.is_file() or not os.access(p, os.W_OK))):
            raise InputError(f"cannot save winding progress in '{folder}' (no write permission); make the result "
                             f"folder writable or copy it somewhere you can write")

    def load(self) -> int:
        """Resume from the progress file when it is this thread's; returns the lines done."""
        self.done = 0
        if self.progress_file is None or not self.progress_file.is_file():
            return 0
        try:
            doc = json.loads(self.progress_file.read_text())
            done = int(doc["done"])
            same = doc.get("fingerprint") == self.fingerprint and int(doc.get("lines", -1)) == self.n
        except (OSError, ValueError, KeyError, TypeError):
            self.note = f"could not read {self.progress_file.name}; starting at line 1"
            return 0
        if not same:
            self.note = f"{self.progress_file.name} is for another thread; starting at line 1"
            return 0
        self.done = min(max(done, 0), self.n)
        if self.done:
            self.note = f"resuming at line {min(self.done + 1, self.n)} ({self.done} lines wound before)"
        return self.done

    def save(self) -> None:
        if self.progress_file is None:
            return
        from rendering.fileio import write_files_atomically

        doc = {"result": self.progress_file.name[:-len(PROGRESS_SUFFIX)] + ".json", "lines": self.n,
               "done": self.done, "fingerprint": self.fingerprint}
        try:
            write_files_atomically(self.progress_file.parent,
                                   {self.progress_file.name: (json.dumps(doc, indent=1) + "\n").encode()})
        except OSError as e:
            raise InputError(f"cannot save winding progress in '{self.progress_file}' ({e.strerror or e}); make "
                             f"the result folder writable") from None

    # ------------------------------------------------------------------ moves
    def next(self) -> None:
        self.done = min(self.done + 1, self.n)

    def back(self) -> None:
        self.done = max(self.done - 1, 0)

    def go(self, line: int) -> None:
        """Go to line ``line`` (1-based: the next line to wind)."""
        if not 1 <= int(line) <= self.n:
            raise InputError(f"line must be between 1 and {self.n}, got {line}")
        self.done = int(line) - 1

    # ------------------------------------------------------------------ screens
    def used_m(self) -> float:
        return float(self.geo.running_m[self.done - 1]) if self.done else 0.0

    def _bar(self, width: int = 40) -> str:
        full = int(round(width * self.done / self.n)) if self.n else width
        fill, empty = ("#", "-") if self.ascii_only else ("█", "░")
        return "[" + fill * full + empty * (width - full) + "]"

    def screen(self) -> str:
        """The screen for the current place, as text (at most 72 columns)."""
        from .instructions import blocks as all_blocks
        from .instructions import switch_text

        g, k, n = self.geo, self.done, self.n
        total = float(g.running_m[-1])
        head = f"bench wind · {self.title}" if self.title else "bench wind"
        out = [head, ""]
        if k >= n:
            last = int(g.pairs[-1, 1])
            tie = f"  tie off at pin {last}" if g.continuous else "  done"
            if g.switches:
                tie = f"  tie off spool {g.spool(n - 1)} at pin {last}, and every other spool at its last pin"
            out += [f"All {n} lines wound.", "", tie, ""]
            out += ["  " + row for row in big_text(str(last), ascii_only=self.ascii_only)]
            out += ["", f"  {g.where(last)}" if g.continuous else "", "",
                    f"  {self._bar()} 100 %   thread {self.used_m():.1f} m of {total:.1f} m", "",
                    "  b: back · q: quit"]
            return "\n".join(out) + "\n"
        a, b = (int(v) for v in g.pairs[k])
        bl = all_blocks(g)
        block, first, _ = next(t for t in bl if t[1] <= k <= t[2])
        spool = f"spool {g.spool(k)} · " if g.switches else ""
        out.append(f"{spool}block {block} of {len(bl)} · line {k + 1} of {n} ({k - first + 1} of this block)")
        out.append("")
        sw = switch_text(g, k) if g.continuous else ""
        if not g.continuous:
            where = f"line from pin {a} to pin"
        elif sw:
            where = f"spool {g.spool(k)}: {sw}, then to pin" if g.switches else f"tie on at pin {a}, then to pin"
        else:
            where = f"from pin {a}   to pin"
        out += [f"  {where}", ""]
        out += ["  " + row for row in big_text(str(b), ascii_only=self.ascii_only)]
        run_end = next(e for _, f0, e in g.runs if f0 <= k <= e)
        upcoming = [int(v) for v in g.pairs[k + 1:min(k + 6, run_end + 1), 1]] if g.continuous else \
            [f"{int(x)}-{int(y)}" for x, y in g.pairs[k + 1:min(k + 6, run_end + 1)]]
        after = f"switch to spool {g.spool(run_end + 1)}" if run_end + 1 < n else "tie off"
        out += ["", "  then: " + " > ".join(map(str, upcoming + ([after] if len(upcoming) < 5 else [])))]
        pct = 100.0 * k / n
        out += ["", f"  {self._bar()} {pct:5.1f} %   thread {self.used_m():.1f} m of {total:.1f} m"]
        out += ["", "  Enter/space: next line · b: back · q: quit (your place is saved)"]
        if self.note:
            out += ["", f"  ({self.note})"]
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------------ the loop
    def run(self, getkey, show, *, clear=None, max_keys: int | None = None) -> str:
        """Show screens and move on keys until quit; returns ``"quit"`` or ``"finished"``.

        ``getkey()`` returns one key (``""`` at end of input), ``show(text)`` shows a screen and
        ``clear()`` (optional) clears the terminal first. Progress is saved after every move.
        """
        keys = 0
        while True:
            if clear is not None:
                clear()
            show(self.screen())
            self.note = ""
            try:
                key = getkey()
            except (KeyboardInterrupt, EOFError):
                key = "q"
            keys += 1
            if key in QUIT_KEYS or (max_keys is not None and keys > max_keys):
                self.save()
                return "finished" if self.done >= self.n else "quit"
            if key in NEXT_KEYS:
                if self.done >= self.n:
                    self.save()
                    return "finished"
                self.next()
            elif key in BACK_KEYS:
                self.back()
            else:
                self.note = f"key {key!r} does nothing: Enter or space for the next line, b back, q quit"
                continue
            self.save()
