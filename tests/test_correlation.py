import itertools

import numpy as np
import pytest
from scipy import stats

from common.correlation import correlate, count_tied, stable_ranks, tie_broken_tau, top_k_precision


def brute_force_tau_b(x, y):
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif dx == dy:
            concordant += 1
        else:
            discordant += 1
    return (concordant - discordant) / np.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))


def test_tau_b_agrees_with_scipy_and_a_brute_force_count():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 8, 60).astype(float)  # many ties, like the angle
    truth = score + rng.normal(0, 3, 60)
    result = correlate(score, truth)
    assert result.kendall_tau == pytest.approx(stats.kendalltau(score, truth).statistic, abs=1e-12)
    assert result.kendall_tau == pytest.approx(brute_force_tau_b(score, truth), abs=1e-12)
    assert result.spearman == pytest.approx(stats.spearmanr(score, truth).statistic, abs=1e-12)
    assert result.n == 60
    assert result.score_ties == count_tied(score) > 0
    assert result.truth_ties == 0


def test_nan_pairs_are_dropped_and_reported_in_n():
    result = correlate([1.0, 2.0, np.nan, 4.0], [1.0, 3.0, 2.0, 5.0])
    assert result.n == 3 and result.kendall_tau == pytest.approx(1.0)


def test_tie_broken_tau_breaks_ties_by_input_order():
    score = np.array([1.0, 1.0, 0.0])
    truth = np.array([0.0, 1.0, 2.0])
    assert stable_ranks(score).tolist() == [1, 2, 3]
    # ranks (1,2,3) vs truth ranks (3,2,1): perfectly discordant after tie-breaking
    assert tie_broken_tau(score, truth) == pytest.approx(-1.0)
    assert correlate(score, truth).kendall_tau > -1.0  # tau-b counts the tie as a tie


def test_top_k_precision():
    score = np.array([5, 4, 3, 2, 1.0])
    truth = np.array([5, 1, 4, 3, 2.0])
    assert top_k_precision(score, truth, 2) == 0.5
    assert top_k_precision(score, truth, 5) == 1.0
