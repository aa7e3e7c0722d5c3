"""How a palette's threads are drawn and judged: the one place where one black thread on white takes its
one-channel path.

A :class:`PictureModel` renders a solution's lines (in build order, each in its thread's colour), draws
the snapshots of a replay, and scores a preview against the target's photo. :func:`picture_model` picks it
from the palette, once: black on white is the grey model (:func:`rendering.render`, :func:`rendering.metrics.score`
on the grey picture, bit for bit as it has always been), any other palette composites in sRGB
(:func:`rendering.render_colour`, :func:`rendering.metrics.score_colour` with CIEDE2000 beside the
luminance's metrics). Code above ``rendering`` calls these and never asks which one it has.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .raster import VIEW_SCALE


class PictureModel:
    """Threads composited over the board in sRGB, per channel: (canvas, canvas, 3) pictures."""

    #: channels of a preview (1: a (canvas, canvas) picture)
    channels = 3

    def render(self, table, chords, colours, palette, thread, *, model: str = "multiplicative",
               supersample: int = 4) -> np.ndarray:
        """The lines ``chords`` (build order) in the palette colours ``colours``: the preview."""
        from .colour import render_colour

        if model != "multiplicative":
            raise InputError(f"threads on a board ({palette.describe()}) render with the multiplicative "
                             f"(compositing) model only, not {model!r}")
        return render_colour(table, chords, colours, palette, opacity=thread.opacity)

    def snapshots(self, table, chords, colours, palette, counts, *, opacity: float = 1.0) -> list:
        """Previews after each of ``counts`` lines (ascending), drawn incrementally with :meth:`render`'s
        arithmetic: the one after the last line is the preview, bit for bit."""
        from .colour import colour_snapshots

        return colour_snapshots(table, chords, colours, palette, counts, opacity=opacity)

    def picture(self, target) -> np.ndarray:
        """What a preview is compared with: the target's photo before any tone edit, as a preview is shaped."""
        return target.colour

    def score(self, preview, target, mask, palette, *, factor: int = VIEW_SCALE) -> dict:
        """The preview's scores against :meth:`picture` (CIEDE2000 and the luminance's SSIM, L1, PSNR)."""
        from .metrics import score_colour

        return score_colour(preview, self.picture(target), mask, board=palette.board_rgb, factor=factor)

    def references(self, target, mask, palette, *, factor: int = VIEW_SCALE) -> dict[str, dict]:
        """The scores of the bare board (``blank``) and of the photo's mean colour (``flat``)."""
        from .metrics import colour_reference_scores

        return colour_reference_scores(self.picture(target), mask, board=palette.board_rgb, factor=factor)

    def grey(self, picture: np.ndarray) -> np.ndarray:
        """A preview or :meth:`picture` as one channel: the luminance (Rec. 709 luma, what a grey target is)."""
        from .colour import luminance

        return luminance(picture)

    def score_blurred(self, preview, target, mask, palette) -> dict:
        """:func:`rendering.metrics.score_blurred` (the published protocol's SSIM and PSNR after a 2 px blur)
        of the luminance."""
        from .metrics import score_blurred

        return score_blurred(self.grey(preview), self.grey(self.picture(target)), mask)

    def references_blurred(self, target, mask, palette) -> dict[str, dict]:
        """:meth:`score_blurred` of the bare board (``blank``) and of the photo's mean tone (``flat``)."""
        from .colour import luminance
        from .metrics import reference_scores_blurred

        return reference_scores_blurred(self.grey(self.picture(target)), mask,
                                        blank=float(luminance(palette.board_rgb)))


class OneChannel(PictureModel):
    """One black thread on white: the grey model, one channel, (canvas, canvas) pictures."""

    channels = 1

    def render(self, table, chords, colours, palette, thread, *, model: str = "multiplicative",
               supersample: int = 4) -> np.ndarray:
        from .raster import render_model

        return render_model(table, chords, thread, model=model, supersample=supersample)

    def snapshots(self, table, chords, colours, palette, counts, *, opacity: float = 1.0) -> list:
        from .raster import render_snapshots

        return render_snapshots(table, chords, counts, opacity=opacity)

    def picture(self, target) -> np.ndarray:
        return target.original

    def grey(self, picture: np.ndarray) -> np.ndarray:
        return np.asarray(picture, np.float64)

    def score(self, preview, target, mask, palette, *, factor: int = VIEW_SCALE) -> dict:
        from .metrics import score

        return score(preview, self.picture(target), mask, factor=factor)

    def references(self, target, mask, palette, *, factor: int = VIEW_SCALE) -> dict[str, dict]:
        from .metrics import reference_scores

        return reference_scores(self.picture(target), mask, factor=factor)


_ONE_CHANNEL, _COMPOSITING = OneChannel(), PictureModel()


def picture_model(palette) -> PictureModel:
    """The :class:`PictureModel` of a :class:`~rendering.Palette`: :class:`OneChannel` for black on white."""
    return _ONE_CHANNEL if palette.plain else _COMPOSITING
