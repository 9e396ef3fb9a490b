"""`make k8s-demo`'s core path (scripts/k8s_demo.py) on the session's real node: helm
install, the example ModelRollout with 1.0.0 live, in-cluster traffic, the bump to 2.0.0
and the progress until Promoted. (`make k8s-demo` itself also builds the images and starts
the node, which the session fixture has done.)"""

from __future__ import annotations

import subprocess
import sys

from tests.support.cluster import K8sCluster
from tests.support.realnode import REAL_NODE_MARKS, SCRIPTS

pytestmark = [*REAL_NODE_MARKS]


def test_k8s_demo_promotes_the_good_candidate(real_node: K8sCluster) -> None:
    namespace = "k8s-demo"
    try:
        r = subprocess.run(
            [
                sys.executable,
                str(SCRIPTS / "k8s_demo.py"),
                "--scenario",
                "good",
                "--kubeconfig",
                str(real_node.kubeconfig),
                "--namespace",
                namespace,
            ],
            capture_output=True,
            text=True,
            env=real_node.env,
            timeout=1200,
            check=False,
        )
        assert r.returncode == 0, f"{r.stdout[-5000:]}\n{r.stderr[-3000:]}"
        assert "1.0.0 is live" in r.stdout
        assert "Promoted:" in r.stdout
        assert "make k8s-down" in r.stdout
    finally:
        real_node.helm("uninstall", "understudy", "-n", namespace, "--wait", "--timeout", "3m")
        real_node.kubectl("delete", "namespace", namespace, "--wait=false")
