"""Understudy's operator for the ModelRollout resource (kopf), and its pure decision core."""

__version__ = "0.1.0"
