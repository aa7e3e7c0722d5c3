"""learned: models that propose chords (the seed's autoencoder, a chord-scoring model, warm starts).

Learned solvers register themselves with :mod:`solvers` through the
``stringart.solvers`` entry point group (see pyproject.toml): ``projection``
(the non-learned baseline that decodes like the learned ones), ``ae-seed``,
``ae-chords`` and, once :mod:`solvers.greedy` offers ``solve_greedy``,
``ae+greedy``.

Modules
-------
data      picture pools (any folder, or the offline default), crops, augmentation
render    differentiable renderers: chord weights on the shared chord table, soft lines
models    AESeed, ChordNet, checkpoints (setup recorded, mismatches refused)
decode    chord scores -> one continuous thread
train     the training loop behind ``bench train``
solvers   the registered solvers
"""
