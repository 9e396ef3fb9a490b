"""Code shared by every Understudy process: logging, metrics and prediction comparison."""
