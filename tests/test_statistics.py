"""common.statistics against independent computations and textbook values."""
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from common.statistics import paired_difference, summary, tau_interval


def test_summary_is_the_sample_sd_and_the_student_t_interval():
    s = summary([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.n == 4
    assert s.sd == pytest.approx(math.sqrt(5 / 3))  # ddof 1: sum of squares 5 over n - 1 = 3
    half = 3.182446305 * math.sqrt(5 / 3) / 2  # t(0.975, 3 df) from the printed tables
    assert (s.low, s.high) == pytest.approx((2.5 - half, 2.5 + half), abs=1e-8)
    assert "SD 1.2910" in s.text() and "n=4" in s.text()


def test_three_seeds_sample_sd_is_sqrt_3_2_times_the_population_sd():
    values = [0.31, 0.42, 0.20]
    assert summary(values).sd == pytest.approx(np.std(values) * math.sqrt(3 / 2))


def test_one_unit_has_no_spread_and_missing_values_are_dropped():
    s = summary([0.4, None, float("nan")])
    assert s.n == 1 and math.isnan(s.sd) and math.isnan(s.low) and s.text() == "0.4000 (n=1)"
    with pytest.raises(ValueError):
        summary([None])


def test_paired_difference_agrees_with_scipy_paired_t_test():
    a, b = [0.3695, 0.3644, 0.3701], [0.4030, 0.3877, 0.3790]
    result = paired_difference(a, b)
    d = np.subtract(b, a)
    assert result.differences == pytest.approx(d.tolist())
    assert result.summary.mean == pytest.approx(d.mean()) and result.summary.sd == pytest.approx(d.std(ddof=1))
    assert result.p_value == pytest.approx(scipy_stats.ttest_rel(b, a).pvalue)
    low, high = scipy_stats.t.interval(0.95, 2, loc=d.mean(), scale=d.std(ddof=1) / math.sqrt(3))
    assert (result.summary.low, result.summary.high) == pytest.approx((low, high))
    assert result.positive == 3 and "b > a in 3 of 3" in result.text()
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_tau_interval_is_scipy_tau_with_a_seeded_bootstrap_interval_around_it():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=300)
    score = truth + rng.normal(size=300)
    result = tau_interval(score, truth, resamples=300, seed=1)
    assert result.tau == pytest.approx(scipy_stats.kendalltau(score, truth)[0]) and result.n == 300
    assert result.low < result.tau < result.high and result.high - result.low < 0.2
    assert tau_interval(score, truth, resamples=300, seed=1) == result  # seeded
    # the bootstrap's spread matches tau's large-sample SD for this n (Kendall's variance, null case ~ 0.039)
    null = tau_interval(rng.normal(size=300), truth, resamples=400, seed=2)
    assert (null.high - null.low) / (2 * 1.96) == pytest.approx(math.sqrt(2 * (2 * 300 + 5) / (9 * 300 * 299)), rel=0.25)


def test_a_perfect_ranking_has_a_degenerate_interval():
    truth = np.arange(50.0)
    result = tau_interval(truth * 2, truth, resamples=100)
    assert result.tau == pytest.approx(1.0) and result.low == pytest.approx(1.0) and result.high == pytest.approx(1.0)
