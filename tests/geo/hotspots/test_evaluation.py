"""Hit rate, PAI, PEI and recovery on hand-made examples."""

import numpy as np
import pytest

from geo.hotspots.evaluation import hit_rate, pai, pai_star, pei, recovery, top_cells

# Ten equal cells. Training scores pick cells 0 and 1 at 20 % of the area; the next
# window has 20 incidents: 6 in cell 0, 2 in cell 1, 8 in cell 5, 4 in cell 7.
SCORES = np.array([9.0, 7.0, 1.0, 0.0, 2.0, 6.5, 0.0, 3.0, 0.0, 0.0])
NEXT = np.array([6, 2, 0, 0, 0, 8, 0, 4, 0, 0])


def test_top_cells_takes_the_share_of_area_by_score():
    assert np.flatnonzero(top_cells(SCORES, 0.2)).tolist() == [0, 1]
    assert np.flatnonzero(top_cells(SCORES, 0.3)).tolist() == [0, 1, 5]
    # 25 % of 10 cells is 2.5: never more area than asked -> 2 cells; at least 1 cell.
    assert top_cells(SCORES, 0.25).sum() == 2
    assert top_cells(SCORES, 0.01).sum() == 1
    # Ties keep the input order; NaN ranks last.
    assert np.flatnonzero(top_cells([1.0, 5.0, 5.0, np.nan], 0.5)).tolist() == [1, 2]
    assert np.flatnonzero(top_cells([np.nan, 0.0, -1.0, -2.0], 0.25)).tolist() == [1]
    with pytest.raises(ValueError, match="area_share"):
        top_cells(SCORES, 0.0)


def test_hit_rate_pai_and_pei_by_hand():
    hot = top_cells(SCORES, 0.2)
    assert hit_rate(NEXT, hot) == pytest.approx(8 / 20)
    # PAI = (8/20) / (2/10) = 2.0
    assert pai(NEXT, hot) == pytest.approx(2.0)
    # PAI*: the best 2 cells held 8 + 6 = 14 -> (14/20) / (2/10) = 3.5
    assert pai_star(NEXT, 2) == pytest.approx(3.5)
    assert pei(NEXT, hot) == pytest.approx(2.0 / 3.5)


def test_a_perfect_map_has_pei_one():
    hot = np.zeros(10, dtype=bool)
    hot[[0, 5]] = True
    assert pei(NEXT, hot) == pytest.approx(1.0)
    assert pai(NEXT, np.ones(10, dtype=bool)) == pytest.approx(1.0)


def test_empty_windows_are_refused():
    with pytest.raises(ValueError, match="no incidents"):
        pai(np.zeros(10), top_cells(SCORES, 0.2))
    with pytest.raises(ValueError, match="no hot cells"):
        hit_rate(NEXT, np.zeros(10, dtype=bool))


def test_recovery_precision_and_recall_by_hand():
    # Two planted spots of 500 m radius; a third of 200 m.
    planted = np.array([[0.0, 0.0], [5000.0, 0.0], [0.0, 9000.0]])
    radii = np.array([500.0, 500.0, 200.0])
    hot = np.array([
        [100.0, 100.0],   # in spot 0
        [400.0, -300.0],  # in spot 0 (distance exactly 500 m counts)
        [5600.0, 0.0],    # 600 m from spot 1: outside
        [2500.0, 0.0],    # nowhere
    ])
    result = recovery(hot, planted, radii)
    assert result.matched_cells.tolist() == [True, True, False, False]
    assert result.found_spots.tolist() == [True, False, False]
    assert result.precision == pytest.approx(2 / 4)
    assert result.recall == pytest.approx(1 / 3)


def test_recovery_with_no_hot_cells_and_a_scalar_radius():
    result = recovery(np.empty((0, 2)), [[0.0, 0.0]], 300.0)
    assert result.precision == 0.0 and result.recall == 0.0
    result = recovery([[10.0, 0.0]], [[0.0, 0.0], [1000.0, 0.0]], 300.0)
    assert result.precision == 1.0 and result.recall == 0.5
