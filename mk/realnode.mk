# Real containers: images built with podman from the repository's Dockerfiles,
# and a real node (containerd + runc + kubelet + kube-proxy + CoreDNS) on the local control
# plane. Included from the top-level Makefile. Needs root (host networking, cgroups).
REALNODE_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

.PHONY: node-deps node-tools skaffold-tool images cluster-up-real cluster-down-real k8s-demo k8s-down

node-deps: ## Debian packages for images and the real node (podman, buildah, containerd, runc, CNI...)
	@bash $(REALNODE_ROOT)/scripts/system-deps.sh real-node

node-tools: node-deps ## build (or reuse) kubelet, kube-proxy and CoreDNS besides the k8s tools
	@bash $(REALNODE_ROOT)/scripts/k8s-tools.sh node >/dev/null

skaffold-tool: node-tools ## build (or reuse) skaffold for the realnode profile (scripts/skaffold-podman.sh)
	@bash $(REALNODE_ROOT)/scripts/k8s-tools.sh skaffold >/dev/null

images: env node-deps system-deps ## build the model-api (1.0.0, 2.0.0, 2.0.0-bad, bare), shadow-router and operator images with podman
	bash $(REALNODE_ROOT)/scripts/images.sh build

cluster-up-real: images node-tools ## start the control plane with a real node "realnode"; prints its kubeconfig
	bash $(REALNODE_ROOT)/scripts/realnode.sh up realnode

cluster-down-real: ## stop the real node and its control plane; puts the host back as it was
	bash $(REALNODE_ROOT)/scripts/realnode.sh down realnode

k8s-demo: images node-tools ## the Kubernetes path on a local real node: helm install, 1.0.0 live, shadow 2.0.0 (SCENARIO=good|bad-candidate)
	$(UV) run python $(REALNODE_ROOT)/scripts/k8s_demo.py --scenario $(SCENARIO)

k8s-down: cluster-down-real ## tear down what `make k8s-demo` left running

# `make test` runs the realnode tests too (tests/realnode/test_skaffold.py drives skaffold):
# their images and node binaries come first (the test fixture would build them otherwise,
# inside pytest's timeout).
test: node-tools skaffold-tool images
