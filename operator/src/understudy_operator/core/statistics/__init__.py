"""Pure statistics for rollout decisions (no numpy; README.md in this folder has the API).

- ``sequential``: anytime-valid confidence sequences for rates and paired means, the
  tri-state PASS / FAIL / NOT_YET rule, sample sizes from a minimum detectable effect.
- ``distributions``: KS, PSI and Wasserstein-1 from histograms on shared bucket edges,
  chi-square for categories (edges: understudy_common.histogram.log_spaced_edges).
- ``reference``: one sample of bucket counts against a fixed reference (input drift:
  KS from shares, chi-square goodness of fit; PSI is ``distributions.psi_of_shares``).
- ``quantiles``: order-statistic bounds for a quantile from bucket counts, the latency
  ratio rule (PASS / FAIL / NOT_YET), samples needed per quantile.
- ``special``: the special functions they need (incomplete beta and gamma, t quantiles).
"""

from understudy_operator.core.statistics.distributions import (
    ChiSquareResult,
    Histogram,
    chi_square_categories,
    ks_distance,
    psi,
    psi_of_shares,
    wasserstein_distance,
)
from understudy_operator.core.statistics.quantiles import (
    RatioCheck,
    histogram_quantile,
    min_samples_for_quantile,
    order_statistic_ranks,
    quantile_bounds,
    quantile_ratio_check,
)
from understudy_operator.core.statistics.reference import FitResult, chi_square_fit, ks_of_shares
from understudy_operator.core.statistics.sequential import (
    BetaPrior,
    Direction,
    Interval,
    Moments,
    Outcome,
    compare,
    compare_band,
    mean_confidence_sequence,
    mean_interval,
    prior_for_threshold,
    rate_confidence_sequence,
    rate_decision,
    rate_log_mixture,
    rate_log_one_sided,
    rate_samples_needed,
)

__all__ = [
    "BetaPrior",
    "ChiSquareResult",
    "Direction",
    "FitResult",
    "Histogram",
    "Interval",
    "Moments",
    "Outcome",
    "RatioCheck",
    "chi_square_categories",
    "chi_square_fit",
    "compare",
    "compare_band",
    "histogram_quantile",
    "ks_distance",
    "ks_of_shares",
    "mean_confidence_sequence",
    "mean_interval",
    "min_samples_for_quantile",
    "order_statistic_ranks",
    "prior_for_threshold",
    "psi",
    "psi_of_shares",
    "quantile_bounds",
    "quantile_ratio_check",
    "rate_confidence_sequence",
    "rate_decision",
    "rate_log_mixture",
    "rate_log_one_sided",
    "rate_samples_needed",
    "wasserstein_distance",
]
