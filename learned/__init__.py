"""learned: models that propose chords (the seed's autoencoder, a chord-scoring model, warm starts).

Learned solvers register themselves with :mod:`solvers` through the
``stringart.solvers`` entry point group (see pyproject.toml).
"""
