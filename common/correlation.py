"""Rank correlation between a score (angle, proxy, ...) and ground-truth accuracy.

Kendall tau-b (scipy) is the default: it handles the many ties of the angle (architectures that
differ only on edges no surviving path crosses get the same vector, hence the same angle). The
released code computed tau on ranks after a stable sort (ties broken by enumeration order);
``tie_broken_tau`` reproduces that for comparison. Every result reports n and the number of ties.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass
class Correlation:
    kendall_tau: float
    spearman: float
    n: int
    score_ties: int  # architectures sharing their score with at least one other
    truth_ties: int
    kendall_tau_tie_broken: float
    top_k: dict[int, float]  # k -> precision of the score's top-k among the truth's top-k

    def as_dict(self) -> dict:
        return asdict(self)


def count_tied(values: np.ndarray) -> int:
    """Number of entries whose value occurs more than once."""
    _, counts = np.unique(values, return_counts=True)
    return int(counts[counts > 1].sum())


def stable_ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = largest; equal values ranked in their input order (Python's stable sort, as the released code)."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def tie_broken_tau(score: np.ndarray, truth: np.ndarray) -> float:
    return float(scipy_stats.kendalltau(stable_ranks(truth), stable_ranks(score))[0])


def top_k_precision(score: np.ndarray, truth: np.ndarray, k: int) -> float:
    """|top-k by score ∩ top-k by truth| / k (ties broken by input order)."""
    k = min(k, len(score))
    top_score = set(np.argsort(-score, kind="stable")[:k].tolist())
    top_truth = set(np.argsort(-truth, kind="stable")[:k].tolist())
    return len(top_score & top_truth) / k


def correlate(score, truth, top_k=(10, 50, 100)) -> Correlation:
    """Correlation of ``score`` with ``truth`` over the pairs where both are finite."""
    score = np.asarray(score, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if score.shape != truth.shape:
        raise ValueError(f"score and truth differ in length: {score.shape} vs {truth.shape}")
    keep = np.isfinite(score) & np.isfinite(truth)
    score, truth = score[keep], truth[keep]
    return Correlation(
        kendall_tau=float(scipy_stats.kendalltau(score, truth, variant="b")[0]),
        spearman=float(scipy_stats.spearmanr(score, truth)[0]),
        n=int(len(score)),
        score_ties=count_tied(score),
        truth_ties=count_tied(truth),
        kendall_tau_tie_broken=tie_broken_tau(score, truth),
        top_k={int(k): top_k_precision(score, truth, k) for k in top_k},
    )
