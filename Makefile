# The two commands a newcomer needs: `make run` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    := test-output

.PHONY: run test lint format bench soak system-deps-run system-deps-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

system-deps-run:
	@scripts/system-deps.sh run

system-deps-test:
	@scripts/system-deps.sh test

run: $(STAMP) system-deps-run
	$(BIN)/cityops run --demo

test: $(STAMP) system-deps-test
	mkdir -p $(OUT)/tmp
	TMPDIR=$(CURDIR)/$(OUT)/tmp $(BIN)/pytest -q -p no:cacheprovider -n 2 --dist worksteal --durations=15 tests

bench: $(STAMP) system-deps-test
	$(BIN)/python -m bench.run BENCHMARKS.md

# An hour of the demo at twice its rate with a wall, a duty desk and a tablet open (SOAK_MINUTES=5 for a trial)
soak: $(STAMP) system-deps-test
	$(BIN)/python -m bench.soak BENCHMARKS.md

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(OUT) var
