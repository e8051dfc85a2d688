"""What every kind of mapping suggestion shares: sources, candidates, and the scoring model that learns.

Scoring is a logistic model over features in 0..1 (string similarity, same ASIN, ...): each feature has a
hand-set prior weight, and the operator's decisions move the weights. The fit is a MAP logistic regression
(NumPy, a few Newton steps) with a Gaussian prior centred on the hand-set weights: with no decisions the
weights are the priors, every accept pushes up the weights of the features that were high on the accepted
pair, every reject pushes them down. Alternatives left over when a sibling was accepted count as half a
rejection (the operator saw them and chose another).

The confidence of a candidate is exp(z) / (1 + Σ exp(z_j)) over the source's candidates: the logit against
"none of these", shared among competing targets, so two equally good targets are each at most about 50%.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

PRIOR_PRECISION = 1.0  # how strongly weights stay near their priors (1 / variance of the Gaussian prior)
SUPERSEDED_WEIGHT = 0.5  # an alternative the operator passed over is half a rejection
REASON_MIN_CONTRIBUTION = 0.4  # a feature is worth a sentence when it moves the logit at least this much
MAX_DECISIONS = 5000  # newest decisions used for learning


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    prior: float
    label: str


@dataclass
class Source:
    """Something unmapped: its key (unique within the kind), and facts about it for scoring and for the admin."""

    key: str
    context: dict[str, Any]


@dataclass
class Candidate:
    """A possible target of a source, with its feature values and a sentence per feature that explains it."""

    target_key: str
    target_label: str
    features: dict[str, float]
    explain: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scored:
    candidate: Candidate
    logit: float
    confidence: float
    reasons: list[str]


@dataclass
class Sample:
    features: dict[str, float]
    accepted: bool
    weight: float = 1.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))


@dataclass
class ScoringModel:
    specs: tuple[FeatureSpec, ...]
    bias: float
    weights: np.ndarray
    decisions: int = 0

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def weight(self, name: str) -> float:
        return float(self.weights[self.names.index(name)])

    def vector(self, features: dict[str, float]) -> np.ndarray:
        return np.array([float(features.get(name, 0.0)) for name in self.names])

    def logit(self, features: dict[str, float]) -> float:
        return float(self.bias + self.vector(features) @ self.weights)

    def contributions(self, features: dict[str, float]) -> dict[str, float]:
        return {name: float(w * x) for name, w, x in zip(self.names, self.weights, self.vector(features), strict=True)}

    def as_dict(self) -> dict[str, float]:
        weights = {name: round(float(w), 3) for name, w in zip(self.names, self.weights, strict=True)}
        return {"bias": round(self.bias, 3), **weights}

    def rank(self, candidates: Sequence[Candidate], *, limit: int, min_confidence: float) -> list[Scored]:
        """The best `limit` candidates with their confidence and the reasons that carried them."""
        if not candidates:
            return []
        logits = np.array([self.logit(c.features) for c in candidates])
        top = float(max(0.0, logits.max()))
        # exp(z) / (1 + Σ exp(z)), computed without overflow
        shares = np.exp(logits - top)
        confidences = shares / (math.exp(-top) + shares.sum())
        order = sorted(range(len(candidates)), key=lambda i: (-logits[i], candidates[i].target_key))
        ranked: list[Scored] = []
        for i in order[:limit]:
            if confidences[i] < min_confidence:
                break
            candidate = candidates[i]
            ranked.append(
                Scored(
                    candidate=candidate,
                    logit=float(logits[i]),
                    confidence=round(float(confidences[i]), 4),
                    reasons=self.reasons(candidate),
                )
            )
        return ranked

    def reasons(self, candidate: Candidate) -> list[str]:
        contributions = self.contributions(candidate.features)
        explained = [(abs(c), name) for name, c in contributions.items() if name in candidate.explain]
        explained.sort(reverse=True)
        chosen = [name for size, name in explained if size >= REASON_MIN_CONTRIBUTION]
        if not chosen and explained:
            chosen = [explained[0][1]]
        return [candidate.explain[name] for name in chosen]


def model_fit(*, specs: tuple[FeatureSpec, ...], bias: float, samples: Iterable[Sample]) -> ScoringModel:
    """MAP logistic regression centred on the priors (Newton's method). No samples: the priors themselves."""
    rows = list(samples)
    prior = np.array([bias, *(s.prior for s in specs)])
    if not rows:
        return ScoringModel(specs=specs, bias=bias, weights=prior[1:].copy(), decisions=0)
    names = [s.name for s in specs]
    x = np.array([[1.0, *(float(r.features.get(n, 0.0)) for n in names)] for r in rows])
    y = np.array([1.0 if r.accepted else 0.0 for r in rows])
    s = np.array([r.weight for r in rows])
    precision = np.full(len(prior), PRIOR_PRECISION)
    theta = prior.copy()
    for _ in range(50):
        p = _sigmoid(x @ theta)
        gradient = x.T @ (s * (p - y)) + precision * (theta - prior)
        hessian = (x.T * (s * p * (1 - p))) @ x + np.diag(precision)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return ScoringModel(specs=specs, bias=float(theta[0]), weights=theta[1:], decisions=len(rows))


class Suggester(Protocol):
    """One kind of suggestion: where its unmapped sources are, how candidates are scored, and what accepting does."""

    kind: str
    specs: tuple[FeatureSpec, ...]
    bias: float

    def prepare(self, *, model: ScoringModel, decided: Sequence[Any]) -> None:
        """Load what scoring needs once per refresh (indexes, patterns learned from `decided` suggestions)."""

    def sources(self) -> list[Source]: ...

    def candidates(self, source: Source) -> list[Candidate]: ...

    def still_unmapped(self, *, source_key: str, context: dict[str, Any]) -> bool: ...

    def apply(self, *, source_key: str, context: dict[str, Any], target_key: str, target_label: str) -> str:
        """Create the real mapping row; returns what was done, in words. Raises ApplicationError if it cannot."""
        ...

    def exceptions_to_reprocess(self, *, source_key: str, context: dict[str, Any]) -> list[int]:
        """Open exception items that mapping this source may solve."""
        ...
