# The two set-up commands of the README: `make run` and `make test`.
# Each creates the virtual environment it needs in .venv (on first use).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The container installs without the test tools: `make venv VENV=/opt/venv EXTRAS=`.
EXTRAS ?= [test]

.PHONY: run test fuzz venv clean chaos crash bench bench-profile bench-venv

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

# The long fuzz run: FUZZ_EXAMPLES random examples per target (the suite runs a few
# dozen, always the same); prints how many ran. Needs ../shared/corpus for the corpus seeds.
# A test may take an hour; one that hangs longer is ended with the stacks of every thread
# (not interrupted: hypothesis would take that for a failure and retry the hang).
FUZZ_EXAMPLES ?= 1000
fuzz: venv
	NETZWERKTIMER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p tests.support.fuzz -p no:cacheprovider \
		-o timeout=3600 -o timeout_method=thread \
		tests/test_fuzz_extractors.py tests/test_fuzz_german_dates.py $(PYTEST_ARGS)

# The long seeded fault-injection run (tests/support/chaos.py); its figures go to $(CHAOS_REPORT).
# `make chaos ROUNDS=500 SEED=7`, on PostgreSQL: `make chaos CHAOS_ARGS=--postgres`.
ROUNDS ?= 200
SEED ?= 1
CHAOS_REPORT ?= chaos-report.json
chaos: venv
	$(BIN)/python -m tests.support.chaos --rounds $(ROUNDS) --seed $(SEED) --json $(CHAOS_REPORT) $(CHAOS_ARGS)

# SIGKILL at random points of refresh, export and digest (tests/support/crash.py); figures to $(CRASH_REPORT).
# `make crash KILLS=300 SEED=7`, on PostgreSQL: `make crash CRASH_ARGS=--postgres`.
KILLS ?= 100
CRASH_REPORT ?= crash-report.json
crash: venv
	$(BIN)/python -m tests.support.crash --kills $(KILLS) --seed $(SEED) --json $(CRASH_REPORT) $(CRASH_ARGS)

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
