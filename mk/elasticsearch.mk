UNDERSTUDY_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
# A real Elasticsearch node for the log-search tests: jars from Maven Central into
# ${UNDERSTUDY_CACHE:-~/.cache/understudy}/elasticsearch (outside git). Needs java and mvn.
.PHONY: es-tools

es-tools: ## fetch (or reuse) the jars of the Elasticsearch node the log tests start
	@bash $(UNDERSTUDY_ROOT)/scripts/elasticsearch.sh >/dev/null
