"""The operator as a local process, for the cluster tests."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.processes import ServiceProcess

# The identity the operator runs as in the tests (k8s/operator/rbac.yaml binds it).
SERVICE_ACCOUNT = "system:serviceaccount:understudy:understudy-operator"

# Short Lease timings for the tests of a takeover (a killed leader's standby waits at most
# ~7 s) that still leave a busy API server 2 s per renewal call. Every other test keeps the
# operator's defaults (15 / 10 / 2 s, client-go's): with 4 s, an API server answering slowly
# under the parallel suite made an operator lose the Lease and exit mid-test, as it must
# (nothing restarts it here, unlike the kubelet).
FAST_LEASE = {
    "UNDERSTUDY_OPERATOR_LEASE_DURATION_SECONDS": "6",
    "UNDERSTUDY_OPERATOR_LEASE_RENEW_DEADLINE_SECONDS": "4",
    "UNDERSTUDY_OPERATOR_LEASE_RETRY_SECONDS": "1",
}


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
