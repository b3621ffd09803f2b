# The README's two commands: `make course` and `make test`.
# Both create .venv when missing, put the CPU torch in place first (TORCH_SPEC),
# then install coursekit with its test extras.

PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN        := $(VENV)/bin
# Where coursekit finds ml-100k/ and keeps its cache; exported so notebooks and tests see it.
export DATA_PATH ?= $(CURDIR)/data
# An offline copy of the GroupLens files, used to seed the cache when present.
ML100K_SEED ?= $(CURDIR)/../shared/data/ml-100k

STAMP := $(VENV)/.installed

.PHONY: install data course test unit quick lint notebooks bench check-notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Seed the cache from the offline copy; without one, coursekit downloads on first use.
data:
	@if [ ! -f "$(DATA_PATH)/ml-100k/u.data" ] && [ -f "$(ML100K_SEED)/u.data" ]; then \
		mkdir -p "$(DATA_PATH)" && rm -rf "$(DATA_PATH)/.ml-100k.seed" && \
		cp -r "$(ML100K_SEED)" "$(DATA_PATH)/.ml-100k.seed" && chmod -R u+w "$(DATA_PATH)/.ml-100k.seed" && \
		mv "$(DATA_PATH)/.ml-100k.seed" "$(DATA_PATH)/ml-100k" && \
		echo "seeded $(DATA_PATH)/ml-100k from $(ML100K_SEED)"; \
	fi

course: install data
	$(BIN)/python tools/run_course.py

test: unit notebooks

unit: install data
	$(BIN)/python -m pytest tests -q

# The unit suite without the slow-marked tests (training on MovieLens, spawned processes).
quick: install data
	$(BIN)/python -m pytest tests -q -m "not slow"

# Lint and formatting, as configured in pyproject.toml's [tool.ruff]; fix with
# `ruff check --fix .` and `ruff format .`.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

notebooks: install data
	$(BIN)/python tools/check_notebooks.py
	$(BIN)/python -m pytest -q -p no:randomly --nbval --nbval-current-env \
		--nbval-sanitize-with tutorials/sanitize.cfg tutorials/

bench: install data
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
