"""Tests of the install: Helm chart, raw manifests, Dockerfiles, skaffold.yaml."""
