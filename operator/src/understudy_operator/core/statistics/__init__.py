"""Pure statistics for rollout decisions (no numpy; README.md in this folder has the API).

- ``sequential``: anytime-valid confidence sequences for rates and paired means, the
  tri-state PASS / FAIL / NOT_YET rule, sample sizes from a minimum detectable effect.
- ``special``: the special functions they need (incomplete beta and gamma, t quantiles).
"""

from understudy_operator.core.statistics.sequential import (
    BetaPrior,
    Direction,
    Interval,
    Moments,
    Outcome,
    compare,
    mean_confidence_sequence,
    mean_interval,
    prior_for_threshold,
    rate_confidence_sequence,
    rate_decision,
    rate_log_mixture,
    rate_samples_needed,
)

__all__ = [
    "BetaPrior",
    "Direction",
    "Interval",
    "Moments",
    "Outcome",
    "compare",
    "mean_confidence_sequence",
    "mean_interval",
    "prior_for_threshold",
    "rate_confidence_sequence",
    "rate_decision",
    "rate_log_mixture",
    "rate_samples_needed",
]
