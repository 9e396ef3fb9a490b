"""The operator as a local process, for the cluster tests."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.processes import ServiceProcess

# The identity the operator runs as in the tests (k8s/operator/rbac.yaml binds it).
SERVICE_ACCOUNT = "system:serviceaccount:understudy:understudy-operator"


@dataclass
class OperatorProcess:
    proc: ServiceProcess

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, like a node failure."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def logs(self) -> str:
        return self.proc.logs()


OperatorFactory = Callable[..., OperatorProcess]
