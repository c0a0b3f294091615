"""Local Moran's I by conditional permutation, against esda.Moran_Local(permutations=...)."""

import numpy as np
import pytest
from esda import Moran_Local
from libpysal.weights import lat2W
from scipy import sparse

from geo.hotspots.permutation import draw_other_cells, permutation_local_morans_i
from geo.hotspots.spatial_stats import local_morans_i, row_standardise, significant

SIDE = 30
CLUSTER = (slice(5, 11), slice(5, 11))
ALPHA = 0.05


@pytest.fixture(scope="module")
def planted_lattice():
    """Continuous values (no ties) on a 30 x 30 queen lattice, a high block planted."""
    values = np.random.default_rng(7).gamma(2.0, 1.5, (SIDE, SIDE))
    values[CLUSTER] += 6.0
    w = lat2W(SIDE, SIDE, rook=False)
    w.transform = "r"
    return values.ravel(), w


@pytest.fixture(scope="module")
def esda_reference(planted_lattice):
    values, w = planted_lattice
    # esda announces a change of its default alternative; Moran_Local recomputes p_sim
    # with the folded rule whatever the alternative.
    with pytest.warns(DeprecationWarning, match="alternative hypothesis"):
        return Moran_Local(values, w, permutations=9999, seed=1)


def test_pseudo_p_values_agree_with_esda_statistically(planted_lattice, esda_reference):
    values, w = planted_lattice
    ours = permutation_local_morans_i(values, w.sparse, permutations=9999, seed=1, fdr=False)
    reference = esda_reference.p_sim
    assert np.corrcoef(ours.p, reference)[0, 1] > 0.99
    # 9999 draws: the standard error of a p near 0.5 is 0.005 in each
    assert np.abs(ours.p - reference).max() < 0.04
    assert ours.p.min() == pytest.approx(1 / 10000)
    assert ours.p.max() <= 0.5 + 1e-12
    # the moments of the simulated I agree as well (standard errors of a few 0.01)
    np.testing.assert_allclose(ours.expected, esda_reference.EI_sim, atol=0.15)
    np.testing.assert_allclose(np.sqrt(ours.variance), esda_reference.seI_sim, rtol=0.05)


def test_labels_agree_with_esda_where_p_is_far_from_alpha(planted_lattice, esda_reference):
    values, w = planted_lattice
    ours = permutation_local_morans_i(values, w.sparse, permutations=9999, seed=1, fdr=False)
    esda_significant = esda_reference.p_sim <= ALPHA
    far = np.abs(np.log(esda_reference.p_sim / ALPHA)) > np.log(2)  # p < 0.025 or > 0.1
    assert far.sum() > 0.8 * values.size
    assert np.array_equal(ours.significant[far], esda_significant[far])
    assert np.array_equal(ours.quadrant, esda_reference.q)
    esda_labels = np.where(esda_significant, np.array(["", "HH", "LH", "LL", "HL"])[
        esda_reference.q], "not significant")
    assert np.array_equal(ours.label[far], esda_labels[far])
    # the planted block's interior is a significant high-high cluster
    interior = np.zeros((SIDE, SIDE), dtype=bool)
    interior[6:10, 6:10] = True
    assert set(ours.label[interior.ravel()]) == {"HH"}


def test_statistic_quadrants_and_fdr_are_those_of_the_analytic_version(planted_lattice):
    values, w = planted_lattice
    ours = permutation_local_morans_i(values, w.sparse, permutations=199, seed=3)
    analytic = local_morans_i(values, w.sparse)
    assert np.array_equal(ours.i, analytic.i)
    assert np.array_equal(ours.quadrant, analytic.quadrant)
    assert np.array_equal(ours.significant, significant(ours.p, ALPHA, fdr=True))
    assert ours.significant.sum() < (ours.p <= ALPHA).sum()  # BH is stricter here
    np.testing.assert_allclose(ours.z, (ours.i - ours.expected) / np.sqrt(ours.variance))


def test_the_same_seed_gives_identical_results_and_another_seed_other_draws(
        planted_lattice):
    values, w = planted_lattice
    first = permutation_local_morans_i(values, w.sparse, permutations=99, seed=11)
    again = permutation_local_morans_i(values, w.sparse, permutations=99, seed=11)
    other = permutation_local_morans_i(values, w.sparse, permutations=99, seed=12)
    for field in ("p", "expected", "variance", "z", "label"):
        assert np.array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.p, other.p)
    assert not np.array_equal(first.expected, other.expected)
    assert np.abs(first.p - other.p).max() < 0.25


def test_a_cell_without_neighbours_gets_no_p_value():
    values = np.array([5.0, 1.0, 2.0, 8.0, 3.0, 4.0])
    pairs = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]])  # cell 5 has none
    binary = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                               shape=(6, 6))
    w = row_standardise(binary + binary.T)
    result = permutation_local_morans_i(values, w, permutations=99, seed=0, fdr=False,
                                        alpha=0.99)
    assert np.isnan(result.p[5]) and not result.significant[5]
    assert result.label[5] == "not significant"
    assert result.i[5] == 0.0
    assert np.isfinite(result.p[:5]).all() and result.significant[:5].all()


def test_draws_that_tie_with_the_observed_value_count_in_both_tails():
    # Every cell but 0 has the value 1: whatever cell 0's neighbours are drawn to be,
    # its I is the observed one. Nothing is more typical: p is 1 (esda's fold would
    # give 1 / (permutations + 1), the smallest p there is).
    values = np.ones(40)
    values[0] = 9.0
    neighbours = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [4, 5]])
    binary = sparse.coo_matrix((np.ones(len(neighbours)), tuple(neighbours.T)),
                               shape=(40, 40))
    w = row_standardise(binary + binary.T)
    result = permutation_local_morans_i(values, w, permutations=99, seed=0)
    assert result.p[0] == 1.0
    assert result.variance[0] == pytest.approx(0.0, abs=1e-20)
    assert not result.significant[0]


@pytest.mark.parametrize("n, k", [(2000, 8), (9, 8), (12, 5)])
def test_draws_are_distinct_other_cells_uniformly(n, k):
    # (2000, 8) draws with replacement and redraws repeats; (9, 8) and (12, 5) order
    # all other cells at random (a repeat-free draw would be rare).
    cells = np.array([0, 3, n - 1])
    drawn = draw_other_cells(np.random.default_rng(5), cells, n, 3000, k)
    assert drawn.shape == (3, 3000, k)
    assert ((drawn >= 0) & (drawn < n)).all()
    assert not (drawn == cells[:, None, None]).any()
    ordered = np.sort(drawn, axis=2)
    assert not (ordered[..., 1:] == ordered[..., :-1]).any()
    # each other cell in each position about equally often
    for row, cell in enumerate(cells):
        counts = np.stack([np.bincount(drawn[row, :, column], minlength=n)
                           for column in range(k)])
        counts = np.delete(counts, cell, axis=1)
        expected = 3000 / (n - 1)
        if expected >= 20:
            assert np.abs(counts - expected).max() < 6 * np.sqrt(expected)
        else:
            assert counts.sum(axis=1).tolist() == [3000] * k


def test_bad_arguments_are_refused(planted_lattice):
    values, w = planted_lattice
    with pytest.raises(ValueError, match="permutations"):
        permutation_local_morans_i(values, w.sparse, permutations=0)
    with pytest.raises(ValueError, match="expected 900 values"):
        permutation_local_morans_i(values[:-1], w.sparse)
    with pytest.raises(ValueError, match="vary"):
        permutation_local_morans_i(np.ones(900), w.sparse)
