# The install (helm/understudy, k8s/, skaffold.yaml). Included from the top-level Makefile.
# Some files exist twice because Helm cannot read files outside the chart: the copies in
# the chart must be the same bytes as their sources (tests/install checks it).
INSTALL_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
CHART_DIR := $(INSTALL_ROOT)/helm/understudy

.PHONY: sync-crd sync-chart-files sync-base-images test-install

sync-crd: ## copy the operator's CRD (k8s/crd/modelrollouts.yaml) into the Helm chart
	@test -f $(INSTALL_ROOT)/k8s/crd/modelrollouts.yaml || { echo "k8s/crd/modelrollouts.yaml is missing" >&2; exit 1; }
	@mkdir -p $(CHART_DIR)/crds
	cp $(INSTALL_ROOT)/k8s/crd/modelrollouts.yaml $(CHART_DIR)/crds/modelrollouts.yaml

sync-chart-files: sync-crd env ## copy the CRD, Kibana saved objects, index template and Lua filter into the chart; regenerate the schema of rollout.analysis
	$(UV) run python $(INSTALL_ROOT)/scripts/chart_schema.py
	cp $(INSTALL_ROOT)/k8s/base/kibana/saved-objects.ndjson $(CHART_DIR)/files/kibana-saved-objects.ndjson
	cp $(INSTALL_ROOT)/k8s/base/fluent-bit/index-template.json $(CHART_DIR)/files/elasticsearch-index-template.json
	cp $(INSTALL_ROOT)/k8s/base/fluent-bit/understudy.lua $(CHART_DIR)/files/fluent-bit-understudy.lua

sync-base-images: env ## write scripts/base-images.env's pinned Python base and the Makefile's UV_VERSION into the three Dockerfiles
	$(UV) run python $(INSTALL_ROOT)/scripts/base_images.py

test-install: env ## the install's tests (chart, manifests, Dockerfiles; cluster ones need k8s-tools)
	$(UV) run pytest tests/install $(PYTEST_ARGS)

.PHONY: dashboard
dashboard: env ## write the Grafana dashboard (tools/dashboard, grafana-foundation-sdk) into helm/understudy/files/
	$(UV) run python -m tools.dashboard
