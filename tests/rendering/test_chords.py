import numpy as np
import pytest

from rendering import ChordSet, InputError, PinLayout, check_min_gap


@pytest.mark.parametrize("n, gap", [(3, 1), (10, 2), (11, 5), (288, 20), (1024, 30)])
def test_chord_set_is_every_pair_at_least_min_gap_apart(n, gap):
    cs = ChordSet.build(PinLayout(n_pins=n, canvas=64), gap)
    pairs = {(i, j) for i in range(n) for j in range(i + 1, n) if min(j - i, n - (j - i)) >= gap}
    got = set(zip(cs.pin_a.tolist(), cs.pin_b.tolist()))
    assert got == pairs
    assert np.all(cs.pin_a < cs.pin_b)


def test_chord_ids_round_trip_in_both_orders():
    cs = ChordSet.build(PinLayout(n_pins=40, canvas=64), 4)
    for c in range(cs.n_chords):
        i, j = cs.pins(c)
        assert cs.chord_id(i, j) == c == cs.chord_id(j, i)
    assert cs.chord_id(0, 1) == -1 and cs.chord_id(5, 5) == -1


def test_rect_frame_excludes_chords_along_one_edge():
    lay = PinLayout(n_pins=16, canvas=64, shape="rect")
    cs = ChordSet.build(lay, 1)
    pos = lay.positions
    for a, b in zip(cs.pin_a, cs.pin_b):
        same_x = np.isclose(pos[a, 0], pos[b, 0]) and np.isclose(pos[a, 0], [lay.margin, 64 - lay.margin]).any()
        same_y = np.isclose(pos[a, 1], pos[b, 1]) and np.isclose(pos[a, 1], [lay.margin, 64 - lay.margin]).any()
        assert not (same_x or same_y)


def test_path_to_chords_and_its_errors():
    cs = ChordSet.build(PinLayout(n_pins=12, canvas=64), 3)
    np.testing.assert_array_equal(cs.path_to_chords([0, 5, 9]), [cs.chord_id(0, 5), cs.chord_id(5, 9)])
    with pytest.raises(InputError, match="step 1 of the path joins pins 5 and 6"):
        cs.path_to_chords([0, 5, 6])
    with pytest.raises(InputError, match=r"pin indices must be in \[0, 11\]"):
        cs.path_to_chords([0, 12])


def test_min_gap_too_large_for_the_pins():
    with pytest.raises(InputError, match="min_gap must be at most 5, got 6; with 10 pins use 1..5"):
        check_min_gap(6, 10)
    with pytest.raises(InputError, match="min_gap must be at least 1, got 0"):
        ChordSet.build(PinLayout(n_pins=10, canvas=64), 0)
