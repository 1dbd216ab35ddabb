"""Statistics of one set of stances (-1..1): polarization, bimodality, opinion clusters.

Pure functions of a list of numbers, so the same values come from any state: the world's
outcomes (``polarization`` in an ``outcomes:`` expression) and the per-step history of a
branch (:mod:`aegntix.swarm.metrics`). Every function is deterministic and O(n log n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Esteban–Ray's sensitivity to group size (their admissible range is 0 < alpha <= 1.6).
ER_ALPHA = 1.6
#: 1-D gap clustering: sorted stances split wherever neighbours differ by more than this.
CLUSTER_GAP = 0.1
#: Consensus: the spread (max - min) of stances is below this.
CONSENSUS_SPREAD = 0.1

# Two equal groups at -1 and 1 score exactly 1: 2 * 2 * 0.5 ** (1 + alpha) * 0.5 * 2 = 1 / K.
_ER_K = 1.0 / (4.0 * math.pow(0.5, 2.0 + ER_ALPHA))


@dataclass(frozen=True, slots=True)
class Cluster:
    """A run of stances with no gap wider than :data:`CLUSTER_GAP`."""

    center: float  # the mean of its stances
    size: int


def clusters(stances: Sequence[float], gap: float = CLUSTER_GAP) -> list[Cluster]:
    """Opinion clusters by 1-D gap clustering (single linkage with a cut at ``gap``)."""
    ordered = sorted(stances)
    found: list[Cluster] = []
    run: list[float] = []
    for x in ordered:
        if run and x - run[-1] > gap:
            found.append(Cluster(math.fsum(run) / len(run), len(run)))
            run = []
        run.append(x)
    if run:
        found.append(Cluster(math.fsum(run) / len(run), len(run)))
    return found


def esteban_ray(stances: Sequence[float], gap: float = CLUSTER_GAP) -> float:
    """Esteban–Ray polarization over the opinion clusters (each a group at its mean with
    its share pi): P = K * sum_i sum_j pi_i ** (1 + alpha) * pi_j * |x_i - x_j|, with
    alpha = :data:`ER_ALPHA` and K such that two equal groups at -1 and 1 give 1."""
    groups = clusters(stances, gap)
    n = sum(c.size for c in groups)
    if n == 0:
        return 0.0
    total = 0.0
    for a in groups:
        pa = a.size / n
        for b in groups:
            total += math.pow(pa, 1.0 + ER_ALPHA) * (b.size / n) * abs(a.center - b.center)
    return _ER_K * total


def bimodality(stances: Sequence[float]) -> float:
    """Sarle's bimodality coefficient with sample (bias-corrected) skewness G1 and excess
    kurtosis G2: BC = (G1**2 + 1) / (G2 + 3 (n-1)**2 / ((n-2)(n-3))). Above 5/9 suggests
    two modes. 0 with fewer than 4 stances or when all are equal (one mode)."""
    n = len(stances)
    if n < 4:
        return 0.0
    mean = math.fsum(stances) / n
    m2 = math.fsum((x - mean) ** 2 for x in stances) / n
    if m2 <= 1e-18:
        return 0.0
    m3 = math.fsum((x - mean) ** 3 for x in stances) / n
    m4 = math.fsum((x - mean) ** 4 for x in stances) / n
    g1 = m3 / math.pow(m2, 1.5)
    g2 = m4 / m2**2 - 3.0
    skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    kurt = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return (skew**2 + 1.0) / (kurt + 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def spread(stances: Sequence[float]) -> float:
    return max(stances) - min(stances) if stances else 0.0


def stance_names(stances: Sequence[float]) -> dict[str, float | int]:
    """The names an outcome or termination expression may read (the world's view)."""
    return {
        "polarization": esteban_ray(stances),
        "bimodality": bimodality(stances),
        "opinion_clusters": len(clusters(stances)),
    }


#: What :func:`stance_names` provides.
STANCE_METRIC_NAMES = frozenset({"polarization", "bimodality", "opinion_clusters"})
