"""Mutation testing for the uv workspace (`make mutation`); see README.md beside this file."""
