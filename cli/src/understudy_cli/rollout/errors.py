"""The plugin's exit codes and its one error type, without the Kubernetes client: the
``understudy`` command builds its parser from them on every run (`understudy demo` too), and
importing the client costs ~0.9 s."""

from __future__ import annotations

# Exit codes of every plugin command (docs/plugin.md).
EXIT_OK = 0
EXIT_FAILED = 1  # get/dry-run: the rollout is RolledBack or Failed (or dry-run would fail)
EXIT_USAGE = 2  # a bad command line (argparse's code) or a bad kubeconfig/context
EXIT_NOT_FOUND = 3  # no such rollout or namespace
EXIT_REFUSED = 4  # the command does not apply in the rollout's phase, or was not confirmed
EXIT_API = 5  # the API server (or Prometheus) is unreachable or refused the request
EXIT_INTERRUPTED = 130


class PluginError(Exception):
    """A message for stderr and the exit code it ends the command with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
