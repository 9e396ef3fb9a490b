# Mutation testing of the decision core, the comparison and validation (tools/mutation/).
# Not part of `make test`: it runs the fast tests once per mutant, for tens of minutes.
.PHONY: mutation

MUTATION_ARGS ?=

mutation: models ## mutate the core, compare.py and validation.py; fails under 90% killed (MUTATION_ARGS="--only GLOB")
	UNDERSTUDY_ARTIFACTS=$(ARTIFACTS) $(UV) run python -m tools.mutation $(MUTATION_ARGS)
