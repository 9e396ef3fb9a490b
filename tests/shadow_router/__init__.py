"""Tests of the shadow router (services/shadow-router)."""
