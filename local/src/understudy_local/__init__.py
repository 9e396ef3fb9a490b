"""The local (embedded) mode of Understudy: `understudy demo`."""
