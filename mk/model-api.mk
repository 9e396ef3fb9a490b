# model-api: serve an artifact, its tests, its benchmark, the v1-vs-v2 difftest. Included from the top-level Makefile.
.PHONY: serve-model-api test-model-api bench-model-api difftest

MODEL_API_VERSION ?= v1
MODEL_API_PORT ?= 8001

serve-model-api: models ## serve artifacts/$(MODEL_API_VERSION) on 127.0.0.1:$(MODEL_API_PORT)
	UNDERSTUDY_MODEL_API_ARTIFACT_DIR=$(ARTIFACTS)/$(MODEL_API_VERSION) \
	UNDERSTUDY_MODEL_API_HOST=127.0.0.1 UNDERSTUDY_MODEL_API_PORT=$(MODEL_API_PORT) \
	$(UV) run python -m understudy_model_api

test-model-api: models ## the model-api tests, the fast path and difftest ones, integration included
	UNDERSTUDY_ARTIFACTS=$(ARTIFACTS) $(UV) run pytest tests/model_api tests/model/test_fast_path.py tests/model/test_difftest.py $(PYTEST_ARGS)

bench-model-api: models ## benchmark model-api with wrk (apt-get install wrk); writes bench/results/
	$(UV) run python bench/model_api.py --artifact $(ARTIFACTS)/v1

difftest: models ## v1 vs v2 on a holdout sample (fails: they are different models)
	$(UV) run python -m understudy_model difftest --reference $(ARTIFACTS)/v1 --candidate $(ARTIFACTS)/v2 \
	  --rel-tol 0.10 --abs-tol 10000 --max-mismatch-fraction 0.05 --report reports/difftest-v1-v2.json
