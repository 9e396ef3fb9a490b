# The shadow router (services/shadow-router). Included from the top-level Makefile.
.PHONY: test-router bench-router

test-router: env ## the shadow router's tests (unit, integration; the ConfigMap one needs the cluster)
	$(UV) run pytest tests/shadow_router $(PYTEST_ARGS)

bench-router: env models ## router vs direct vs nginx mirror under wrk (apt-get install -y wrk nginx)
	$(UV) run python bench/shadow_router.py
