"""The Ames house sale-price model: the research environment of Understudy.

Data loading and the seeded split (``data``), the feature schema (``schema``),
input validation (``validation``), the pipelines (``pipeline``), training
(``train``), artifacts (``artifact``) and the command line (``cli``).
"""

MODEL_NAME = "house-prices"
