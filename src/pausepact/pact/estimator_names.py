"""The estimator names a pact may use, and the threshold fields each needs.

A table with no code behind it, so that validating a pact file (:mod:`.policy`) needs
no estimator (and :mod:`.estimators`, which needs the policy's types, is imported by
no module it imports). :mod:`.estimators` implements every name listed here.
"""

from __future__ import annotations

#: estimator name → the Threshold fields it requires
REQUIRES: dict[str, tuple[str, ...]] = {
    "latest": (),
    "sustained": (),
    "doubling_days": (),
    "progress_ratio": ("baseline_until",),
    "projection_days": ("level_minutes",),
    "latest_bound": (),
}


def known() -> list[str]:
    return sorted(REQUIRES)


def requires(name: str) -> tuple[str, ...]:
    return REQUIRES.get(name, ())
