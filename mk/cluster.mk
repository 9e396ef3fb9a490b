# The local Kubernetes control plane the cluster tests run against. Included from the top-level Makefile:
#   include mk/cluster.mk
# Binaries are built from the Go module proxy into ${UNDERSTUDY_CACHE:-~/.cache/understudy}
# (outside git); versions are pinned in scripts/k8s-versions.env.
UNDERSTUDY_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

.PHONY: k8s-tools cluster-up cluster-down cluster-kubeconfig

k8s-tools: ## build (or reuse) pinned kube-apiserver/etcd/kwok/helm/kubectl binaries
	bash $(UNDERSTUDY_ROOT)/scripts/k8s-tools.sh

cluster-up: $(if $(filter 1,$(REAL_NODE)),images node-tools) ## start the local kwok cluster "understudy" (REAL_NODE=1: the real node "realnode") and print its kubeconfig path
	$(if $(filter 1,$(REAL_NODE)),bash $(UNDERSTUDY_ROOT)/scripts/realnode.sh up realnode,bash $(UNDERSTUDY_ROOT)/scripts/cluster.sh up)

cluster-down: ## delete the local kwok cluster (REAL_NODE=1: the real node and its control plane)
	$(if $(filter 1,$(REAL_NODE)),bash $(UNDERSTUDY_ROOT)/scripts/realnode.sh down realnode,bash $(UNDERSTUDY_ROOT)/scripts/cluster.sh down)

cluster-kubeconfig: ## print the kubeconfig path of the local kwok cluster
	@bash $(UNDERSTUDY_ROOT)/scripts/cluster.sh kubeconfig
