"""Winding instructions: materials, where to tie on, the pins in numbered blocks of 100 lines, where to tie off.

Two forms of the same list: :func:`instructions_txt` (plain text, monospaced columns) and
:func:`instructions_pdf` (a cover page, then the blocks in large print, never split across pages).
Each block has rows of 10 lines: the row starts with its first line's number, then the 10 pins to take
the thread to, then the thread used by the end of the row.

One spool or several (wound in runs of one spool in build order): the materials list each spool and its
length, a block never spans two spools, a block where the spool changes names it and says where to tie it
on (its first run) or pick it up again (the pin where it was left), and the finish says where to tie off
each spool.
"""

from __future__ import annotations

import math

import numpy as np

from .pages import PRINTER_MARGIN_MM, new_page, parse_paper, pdf_bytes, style

BLOCK = 100
PER_ROW = 10
PT = 72.0 / 25.4
#: the advance of a DejaVu Sans Mono character, in em
MONO_ADVANCE = 0.602


def _cell(geo, k: int) -> str:
    """What to do at line ``k`` (0-based): the next pin of its spool's thread, or the line's two pins."""
    if geo.continuous:
        return str(int(geo.pairs[k, 1]))
    a, b = geo.pairs[k]
    return f"{int(a)}-{int(b)}"


def materials(geo) -> list[tuple[str, str]]:
    b = geo.budget()
    board = geo.frame_mm + 2 * max(15.0, 4 * geo.pin_mm)
    frame = (f"{geo.shape_name}, pins on a {geo.frame_mm:g} mm "
             f"{'circle (diameter)' if geo.shape == 'circle' else 'square (side)'}; a board at least "
             f"{board:.0f} mm across, its face {geo.board_name} ({geo.board_hex})")
    used = [s for s in geo.spool_budget() if s["lines"]]
    spools = "; ".join(f"{s['name']} ({s['hex']}): {s['lines']} lines, {s['total_m']:.1f} m, have at least "
                       f"{s['buy_m']:.0f} m" for s in used)
    lines = f"{geo.n_lines} in {len(blocks(geo))} blocks of up to {BLOCK}"
    if geo.switches:
        lines += f", {len(geo.runs)} runs of one spool ({geo.switches} spool switches)"
    return [
        ("Frame", frame),
        ("Pins", f"{geo.n_pins} pins (nails), diameter {geo.pin_mm:g} mm, {geo.spacing_mm:.2f} mm apart; pin 0 "
                 f"at 12 o'clock, numbered clockwise seen from the front (see the template)"),
        ("Thread", f"diameter {geo.thread_mm:g} mm" + (f", opacity {geo.opacity:g}" if geo.opacity < 1 else "")
         + f", {len(used)} spool{'s' if len(used) != 1 else ''}"),
        ("Spools", spools),
        ("Length", f"{b['straight_m']:.1f} m pin to pin + {b['wrap_m']:.1f} m around the pins + "
                   f"{b['knots_m']:.1f} m for knots + {b['spare_m']:.1f} m spare (10 %) = {b['total_m']:.1f} m; "
                   f"have at least {b['buy_m']:.0f} m"),
        ("Lines", lines),
    ]


def start_text(geo) -> str:
    if not geo.continuous:
        return ("These lines are not one continuous thread: each line goes from its first pin to its second; "
                "carry the thread round the outside of the frame between lines.")
    if not geo.n_lines:
        return "There is no line to wind."
    c, first, _ = geo.runs[0]
    p = int(geo.pairs[first, 0])
    which = f"spool {geo.colour_names[c]}" if geo.switches else "the thread"
    out = (f"Tie {which} on at pin {p} ({geo.where(p)}). Then take it to each pin of the list in turn: round the "
           f"pin and straight on to the next.")
    if geo.switches:
        out += (" The list is in build order and each block names its spool. Where the spool changes, leave the "
                "thread of the last spool round its last pin (a half hitch holds it) and tie the next spool on at "
                "the pin the block names, or pick it up where you left it.")
    return out


def finish_text(geo) -> str:
    used = float(geo.running_m[-1]) if geo.n_lines else 0.0
    if not geo.continuous:
        return f"Finished after line {geo.n_lines}. Thread used: {used:.1f} m."
    if not geo.switches:
        p = int(geo.pairs[-1, 1])
        return f"Finished after line {geo.n_lines}: tie off at pin {p} ({geo.where(p)}). Thread used: {used:.1f} m."
    ends = []
    for i, name in enumerate(geo.colour_names):
        last = [b for c, _, b in geo.runs if c == i]
        if last:
            p = int(geo.pairs[last[-1], 1])
            ends.append(f"{name} at pin {p} ({geo.where(p).replace('at ', '', 1).split(' on a')[0]})")
    return (f"Finished after line {geo.n_lines}: tie off each spool at its last pin: {'; '.join(ends)}. "
            f"Thread used: {used:.1f} m.")


def blocks(geo):
    """``(number, first, last)`` of each block: lines ``first..last`` (0-based, inclusive); a block never spans
    two runs (spools)."""
    out = []
    for _, a, b in geo.runs:
        for s in range(a, b + 1, BLOCK):
            out.append((len(out) + 1, s, min(s + BLOCK - 1, b)))
    return out


def switch_text(geo, first: int) -> str:
    """At a block's first line: whether to tie its spool on or pick it up (``""`` inside a run)."""
    if first and geo.colours[first - 1] == geo.colours[first]:
        return ""
    c = int(geo.colours[first])
    p = int(geo.pairs[first, 0])
    again = bool(np.any(geo.colours[:first] == c))
    return f"{'pick it up' if again else 'tie it on'} at pin {p}"


def block_header(geo, number: int, first: int, last: int) -> str:
    before = float(geo.running_m[first - 1]) if first else 0.0
    where = f" · from pin {int(geo.pairs[first, 0])}" if geo.continuous else ""
    sw = switch_text(geo, first)
    spool = f" · SPOOL {geo.spool(first).upper()}" + (f": {sw}" if sw else "") if (sw or geo.switches) else ""
    return (f"BLOCK {number} of {len(blocks(geo))}{spool} · lines {first + 1}-{last + 1}{where} · thread "
            f"{before:.1f} m -> {float(geo.running_m[last]):.1f} m")


def instructions_txt(geo, *, title: str = "") -> bytes:
    """The winding instructions as plain text."""
    out = ["STRING ART: WINDING INSTRUCTIONS", title, ""]
    out += ["MATERIALS"] + [f"  {k + ':':8s} {v}" for k, v in materials(geo)] + [""]
    out += ["START", "  " + start_text(geo), ""]
    width = max(len(_cell(geo, k)) for k in range(geo.n_lines)) if geo.n_lines else 3
    for number, first, last in blocks(geo):
        out.append(block_header(geo, number, first, last))
        for s in range(first, last + 1, PER_ROW):
            e = min(s + PER_ROW, last + 1) - 1
            cells = "  ".join(f"{_cell(geo, k):>{width}s}" for k in range(s, e + 1))
            out.append(f"  {s + 1:>6d} | {cells:<{PER_ROW * (width + 2) - 2}s} | {float(geo.running_m[e]):8.1f} m")
        out.append("")
    out += ["FINISH", "  " + finish_text(geo), ""]
    return ("\n".join(out)).encode()


# ------------------------------------------------------------------------------------------------ PDF
ROW_MM = 10.0
HEADER_MM = 10.0
GAP_MM = 7.0
LABEL_MM = 16.0
USED_MM = 20.0


def _block_height(rows: int) -> float:
    return HEADER_MM + rows * ROW_MM + GAP_MM


def _cover(geo, pw: float, ph: float, title: str, preview: np.ndarray | None):
    fig, ax = new_page(pw, ph)
    m = PRINTER_MARGIN_MM + 4
    ax.text(m, m, "String art: winding instructions", fontsize=7 * PT, fontweight="bold", va="top")
    ax.text(m, m + 9, title, fontsize=4.2 * PT, va="top")
    y = m + 20
    if preview is not None:
        size = min(70.0, pw / 3)
        ax.imshow(preview, cmap="gray", vmin=0, vmax=1, extent=(pw - m - size, pw - m, y + size, y),
                  interpolation="none")
        ax.text(pw - m - size / 2, y + size + 2, "the result (preview)", fontsize=3 * PT, ha="center", va="top",
                color="#555555")
    text_right = pw - m - (min(70.0, pw / 3) + 6 if preview is not None else 0)
    wrap_at = int((text_right - (m + 22)) / (3.6 * 0.55))
    wrap_full = int((pw - 2 * m) / (3.6 * 0.55))
    ax.text(m, y, "Materials", fontsize=5 * PT, fontweight="bold", va="top")
    y += 8
    import textwrap

    for k, v in materials(geo):
        lines = textwrap.wrap(v, wrap_at)
        ax.text(m, y, k, fontsize=3.6 * PT, fontweight="bold", va="top")
        ax.text(m + 22, y, "\n".join(lines), fontsize=3.6 * PT, va="top", linespacing=1.35)
        y += 5.6 * len(lines) + 2.5
    y = max(y, m + 20 + (min(70.0, pw / 3) + 8 if preview is not None else 0)) + 6
    for head, body in (("Start", start_text(geo)),
                       ("How to read a block", "Each row holds 10 lines. The small number at the left is the "
                        "row's first line; the large numbers are the pins to take the thread to, left to right; "
                        "the right column is the thread used by the end of the row. Tick a block when it is done: "
                        "if you lose your place, the block's first pin and the thread used help you find it. "
                        "`bench wind` shows the same list one line at a time."),
                       ("Tips", "Keep the tension even and moderate. Wind from the front (as the template shows). "
                        "Every 10th pin is marked bold on the template."),
                       ("Finish", finish_text(geo))):
        ax.text(m, y, head, fontsize=5 * PT, fontweight="bold", va="top")
        y += 8
        lines = textwrap.wrap(body, wrap_full)
        ax.text(m, y, "\n".join(lines), fontsize=3.6 * PT, va="top", linespacing=1.35)
        y += 5.6 * len(lines) + 6
    return fig, ax


def _footer(ax, pw: float, ph: float, text: str) -> None:
    ax.text(pw / 2, ph - PRINTER_MARGIN_MM, text, fontsize=2.8 * PT, ha="center", va="bottom", color="#444444")


def _draw_block(ax, geo, number: int, first: int, last: int, x0: float, y0: float, width: float) -> None:
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Rectangle

    hexc = geo.colour_hex[int(geo.colours[first])]  # a swatch of the spool's colour before the header
    ax.add_patch(Rectangle((x0, y0 + HEADER_MM - 7.5), 6.0, 4.5, facecolor=hexc, edgecolor="black", linewidth=0.6))
    text_x = x0 + 8.0
    header = block_header(geo, number, first, last).replace("BLOCK", "Block")
    ax.text(text_x, y0 + HEADER_MM - 2.5, header, fontsize=(4.0 if len(header) <= 80 else 3.0) * PT,
            fontweight="bold", va="bottom")
    ax.add_patch(Rectangle((x0 + width - 5, y0 + HEADER_MM - 7.5), 4.5, 4.5, facecolor="none", edgecolor="black",
                           linewidth=0.8))  # a box to tick
    cells_w = width - LABEL_MM - USED_MM
    field = max(len(_cell(geo, k)) for k in range(first, last + 1)) + 1
    # one monospaced text per row (a space, then the number right-aligned): 10x fewer texts than one per
    # cell, as aligned
    size = min(6.5, cells_w / (PER_ROW * field * MONO_ADVANCE))
    y = y0 + HEADER_MM
    for row, s in enumerate(range(first, last + 1, PER_ROW)):
        e = min(s + PER_ROW, last + 1) - 1
        if row % 2 == 0:
            ax.add_patch(Rectangle((x0, y), width, ROW_MM, facecolor="#ececec", edgecolor="none"))
        ax.text(x0 + 1, y + ROW_MM / 2, str(s + 1), fontsize=3.2 * PT, va="center", ha="left", color="#333333")
        text = "".join(_cell(geo, k).rjust(field) for k in range(s, e + 1))  # numbers right-aligned
        ax.text(x0 + LABEL_MM, y + ROW_MM / 2 + 0.3, text, fontsize=size * PT, fontweight="bold", ha="left",
                va="center", family="DejaVu Sans Mono")
        ax.text(x0 + width - 1, y + ROW_MM / 2, f"{float(geo.running_m[e]):.1f} m", fontsize=3.2 * PT,
                va="center", ha="right", color="#333333")
        y += ROW_MM
    ax.plot([x0, x0 + width], [y, y], color="#999999", linewidth=0.5)
    char = MONO_ADVANCE * size  # mm
    xs = [x0 + LABEL_MM + (k * field + 0.5) * char for k in range(PER_ROW + 1)]  # in the middle of the spaces
    seps = [[(x, y0 + HEADER_MM), (x, y)] for x in xs]
    ax.add_collection(LineCollection(seps, colors="#c8c8c8", linewidths=0.4))


def plan_pages(geo, paper: str = "A4") -> tuple[float, float, int]:
    """``(page_w, page_h, blocks per page)`` for the block pages."""
    _, pw, ph = parse_paper(paper)
    avail = ph - 2 * PRINTER_MARGIN_MM - 8.0 - 12.0  # the footer, and room for the finish line on the last page
    per_page = max(1, int(avail // _block_height(BLOCK // PER_ROW)))
    return pw, ph, per_page


def page_count(geo, paper: str = "A4") -> int:
    """Pages of :func:`instructions_pdf`: the cover, then the blocks."""
    return 1 + math.ceil(len(blocks(geo)) / plan_pages(geo, paper)[2])


def instruction_pages(geo, *, paper: str = "A4", title: str = "", preview: np.ndarray | None = None):
    """The pages as matplotlib figures (call inside :func:`kit.pages.style`)."""
    pw, ph, per_page = plan_pages(geo, paper)
    bl = blocks(geo)
    n_pages = 1 + math.ceil(len(bl) / per_page)
    fig, ax = _cover(geo, pw, ph, title, preview)
    _footer(ax, pw, ph, f"{title} · page 1 of {n_pages}")
    yield fig
    m = PRINTER_MARGIN_MM + 4
    width = pw - 2 * m
    for p in range(1, n_pages):
        fig, ax = new_page(pw, ph)
        y = PRINTER_MARGIN_MM
        for number, first, last in bl[(p - 1) * per_page:p * per_page]:
            _draw_block(ax, geo, number, first, last, m, y, width)
            y += _block_height(math.ceil((last - first + 1) / PER_ROW))
        if p == n_pages - 1:
            import textwrap

            ax.text(m, y + 2, "\n".join(textwrap.wrap(finish_text(geo), int(width / (4.0 * 0.6)))),
                    fontsize=4.0 * PT, fontweight="bold", va="top", linespacing=1.3)
        _footer(ax, pw, ph, f"{title} · page {p + 1} of {n_pages}")
        yield fig


def instructions_pdf(geo, *, paper: str = "A4", title: str = "", preview: np.ndarray | None = None) -> bytes:
    """The cover page (materials, start, how to read, finish), then the blocks, a whole number per page."""
    with style():
        return pdf_bytes(list(instruction_pages(geo, paper=paper, title=title, preview=preview)),
                         title=f"{title} winding instructions", subject="string art winding list")
