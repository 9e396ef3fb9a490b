"""``understudy shadow``: the demo's local rollout on the user's artifacts and traffic."""
