"""The statistics every report uses, in one place, each named for what it is.

- Independent units are supernets trained from different seeds (train seeds). Search seeds on one
  supernet are nested in it, not independent: average them within the supernet first.
- ``summary``: mean, *sample* standard deviation (ddof 1) and a Student-t interval for the mean over n units.
- ``paired_difference``: runs that share data, labels, paths and initial weights (the same seed)
  differ by one setting; the per-seed differences are the units.
- ``tau_interval``: Kendall tau-b over a *sampled subset* of architectures, with a percentile
  bootstrap interval over the architectures. A tau over the whole space samples nothing and gets none.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats

LEVEL = 0.95


@dataclass
class Summary:
    mean: float
    sd: float  # sample standard deviation (ddof 1); nan for one unit
    n: int  # independent units
    low: float  # Student-t interval for the mean at ``level`` (nan for one unit)
    high: float
    level: float = LEVEL

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self, digits: int = 4) -> str:
        """``0.3595 (SD 0.0046, 95% CI 0.348 to 0.371, n=3)``; one unit: the value and ``n=1``."""
        if self.n < 2:
            return f"{self.mean:.{digits}f} (n={self.n})"
        return (f"{self.mean:.{digits}f} (SD {self.sd:.{digits}f}, {round(100 * self.level)}% CI "
                f"{self.low:.{digits}f} to {self.high:.{digits}f}, n={self.n})")


def finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray([v for v in values if v is not None], dtype=np.float64)
    return array[np.isfinite(array)]


def summary(values: Sequence[float], level: float = LEVEL) -> Summary:
    """Mean, sample SD and t-interval of ``values``, one per independent unit (None and nan dropped)."""
    x = finite(values)
    if len(x) == 0:
        raise ValueError("no finite values to summarise")
    mean = float(x.mean())
    if len(x) < 2:
        return Summary(mean, math.nan, 1, math.nan, math.nan, level)
    sd = float(x.std(ddof=1))
    half = float(scipy_stats.t.ppf((1 + level) / 2, len(x) - 1)) * sd / math.sqrt(len(x))
    return Summary(mean, sd, len(x), mean - half, mean + half, level)


@dataclass
class PairedDifference:
    differences: list[float]  # per unit: b - a
    summary: Summary  # of the differences
    p_value: float  # two-sided paired t-test of mean difference 0 (nan for one pair)
    positive: int  # units where b > a

    def text(self, digits: int = 4) -> str:
        s = self.summary
        p = "" if math.isnan(self.p_value) else f", paired t p={self.p_value:.2g}"
        return f"{s.text(digits)}{p}; b > a in {self.positive} of {s.n}"


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> PairedDifference:
    """``b - a`` over paired units (same seed in both arms): mean, sample SD, t-interval, p-value."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired values need two equal-length lists, got {a.shape} and {b.shape}")
    d = b - a
    p = math.nan
    if len(d) >= 2 and d.std(ddof=1) > 0:
        p = float(scipy_stats.ttest_1samp(d, 0.0).pvalue)
    return PairedDifference(d.tolist(), summary(d, level), p, int((d > 0).sum()))


@dataclass
class TauInterval:
    tau: float
    n: int
    low: float
    high: float
    level: float = LEVEL
    resamples: int = 0

    def text(self, digits: int = 4) -> str:
        return f"{self.tau:.{digits}f} ({round(100 * self.level)}% CI {self.low:.{digits}f} to {self.high:.{digits}f}, n={self.n})"


def kendall_tau(score: Sequence[float], truth: Sequence[float]) -> float:
    return float(scipy_stats.kendalltau(np.asarray(score), np.asarray(truth), variant="b")[0])


def tau_interval(score: Sequence[float], truth: Sequence[float], resamples: int = 1000, seed: int = 0,
                 level: float = LEVEL) -> TauInterval:
    """Kendall tau-b of a sampled subset of architectures and its percentile bootstrap interval
    (architectures resampled with replacement, ``resamples`` times, from a seeded generator)."""
    score, truth = np.asarray(score, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if score.shape != truth.shape or len(score) < 3:
        raise ValueError("need at least 3 (score, truth) pairs of equal length")
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(resamples):
        pick = rng.integers(0, len(score), len(score))
        taus.append(kendall_tau(score[pick], truth[pick]))
    taus = finite(taus)
    tail = (1 - level) / 2
    return TauInterval(kendall_tau(score, truth), len(score), float(np.quantile(taus, tail)),
                       float(np.quantile(taus, 1 - tail)), level, resamples)
