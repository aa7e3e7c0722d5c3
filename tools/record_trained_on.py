"""Record in the shipped checkpoints the pictures they were trained on (weights unchanged).

Checkpoints trained since ``trained_on`` existed record it themselves (``bench train``). The shipped ones were
trained on the offline pool (:func:`learned.data.builtin_pool`) before, so this adds what their training read:

* ``ae-chords`` and ``ae-seed``: every pool picture, with its split (their crops came from the train split,
  their model choice from the validation split);
* ``ae-target``: the pictures its labels were cut from (``info["label_names"]``).

Run: ``python tools/record_trained_on.py`` (``--check``: exit 1 when a checkpoint lacks or differs from the
record, without writing). Only the ``trained_on`` entry is added; the state dict is saved as it was loaded.
"""

from __future__ import annotations

import argparse
import sys

import torch

from learned.data import builtin_pool, picture_records
from learned.models import CHECKPOINT_DIR, save_blob


def records_for(blob: dict, pool: list[dict]) -> tuple[list[dict], dict]:
    """``(records, the dict holding them)``: the pool for a ChordNet/seed checkpoint, the labelled pictures for
    ae-target."""
    if blob.get("kind") == "ae-target":
        used = set(blob["info"].get("label_names") or [])
        return [r for r in pool if r["name"] in used], blob["info"]
    return pool, blob.setdefault("extra", {})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when a record is missing or stale")
    args = ap.parse_args(argv)
    images, names = builtin_pool()
    pool = picture_records(images, names)
    stale = 0
    for path in sorted(CHECKPOINT_DIR.glob("*.pt")):
        blob = torch.load(path, map_location="cpu", weights_only=True)
        records, holder = records_for(blob, pool)
        if holder.get("trained_on") == records:
            print(f"{path.name}: {len(records)} pictures recorded")
            continue
        stale += 1
        if args.check:
            print(f"{path.name}: the record of its training pictures is missing or stale")
            continue
        holder["trained_on"] = records
        save_blob(blob, path)
        print(f"{path.name}: recorded {len(records)} pictures")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
