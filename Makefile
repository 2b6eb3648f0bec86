# The two set-up commands of the README: `make run` and `make test`.
# Each creates the virtual environment it needs in .venv (on first use).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The container installs without the test tools: `make venv VENV=/opt/venv EXTRAS=`.
EXTRAS ?= [test]

.PHONY: run test venv clean bench bench-profile bench-venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.$(EXTRAS)'
	touch $@

run: venv
	$(BIN)/netzwerktimer serve

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark (BENCHMARKS.md, issue 8): worlds in bench/work, results in bench/results.
# `make bench SCENARIOS=thuringia`; scenarios: tiny thuringia country-50k country-200k country (= both sizes).
SCENARIOS ?= thuringia country
BENCH_ARGS ?=
PROFILE_SCENARIO ?= country-50k
PROFILE_STAGE ?= cold

bench-venv: $(VENV)/.bench-installed

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

bench: bench-venv
	$(BIN)/python bench/run.py --scenarios $(SCENARIOS) $(BENCH_ARGS)

# PROFILE_STAGE (cold: the slowest stage of the recorded runs) of PROFILE_SCENARIO once more under cProfile,
# after the cold refresh it starts from: bench/results/profile-<scenario>-<stage>.txt.
bench-profile: bench-venv
	$(BIN)/python bench/run.py --scenarios $(PROFILE_SCENARIO) --stages cold $(PROFILE_STAGE) --profile $(PROFILE_STAGE) \
		--json bench/results/profile-run.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache bench/work
