"""Kubernetes I/O of the operator: manifests, the actuator, events."""

GROUP = "rollouts.understudy.dev"
VERSION = "v1alpha1"
PLURAL = "modelrollouts"
KIND = "ModelRollout"
