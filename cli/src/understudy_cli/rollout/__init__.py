"""``kubectl understudy`` (console script ``kubectl-understudy``, also ``understudy rollout``):
look at and steer a ModelRollout in a cluster — get/watch, approve, abort, resume, retry,
promote --skip-analysis, report, dry-run. docs/plugin.md is the user's page."""
