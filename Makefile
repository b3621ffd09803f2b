# The README's two commands: `make course` and `make test`.
# Both create .venv when missing, put the CPU torch in place first (TORCH_SPEC),
# then install coursekit with its test extras.

PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
# torch comes from PyTorch's CPU-only wheel index (no CUDA packages on Linux); when that index
# cannot be reached within 10 s, a plain `pip install` of TORCH_SPEC is the fallback.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
BIN        := $(VENV)/bin
# Where coursekit finds ml-100k/ and keeps its cache; exported so notebooks and tests see it.
export DATA_PATH ?= $(CURDIR)/data
# An offline copy of the GroupLens files, used to seed the cache when present.
ML100K_SEED ?= $(CURDIR)/../shared/data/ml-100k

STAMP := $(VENV)/.installed

.PHONY: install data course test unit notebooks isolation bench check-notebooks clean dist binder wheel-check binder-check \
	reset quick lint site site-install site-check student

# `make notebooks LESSON=05_similarity` checks one lesson; `make course LESSON=05_similarity` runs one.
LESSON ?=
# The notebook check: nbval, with the measured-number tolerances of tools/tolerances.py.
NBVAL = PYTHONPATH=tools $(BIN)/python -m pytest -q -p no:randomly -p nbval_tolerances --nbval \
	--nbval-current-env --nbval-sanitize-with tutorials/sanitize.cfg

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --index-url "$(TORCH_INDEX)" --timeout 10 --retries 0 "$(TORCH_SPEC)" \
		|| $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,baselines,fast]"
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
	$(BIN)/python tools/run_course.py $(LESSON)

test: unit notebooks

# PYTEST_ARGS passes options through, e.g. PYTEST_ARGS='-m "not course"' skips the lesson runs.
PYTEST_ARGS ?=
unit: install data
	$(BIN)/python -m pytest tests -q $(PYTEST_ARGS)

# The unit suite without the slow- and course-marked tests (training on MovieLens, spawned processes, lesson runs).
quick: install data
	$(BIN)/python -m pytest tests -q -m "not slow and not course"

# Lint and formatting, as configured in pyproject.toml's [tool.ruff]; fix with
# `ruff check --fix .` and `ruff format .`.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

notebooks: install data
	$(BIN)/python tools/check_notebooks.py
	$(NBVAL) $(if $(LESSON),tutorials/$(LESSON).ipynb,tutorials/)

# Every lesson alone in a fresh data folder, then the course in reverse order.
isolation: install data
	$(BIN)/python tools/check_isolation.py $(LESSON)

# sdist and wheel of the library (distribution coursekit-recsys) in dist/.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist . >/dev/null
	@ls dist

# Pin binder/requirements.txt to the versions this environment (CI's) was tested with.
binder: install
	$(BIN)/python tools/binder_requirements.py

# What Colab does: only the wheel, one lesson in an empty folder, compared with its stored outputs.
wheel-check: dist data
	ML100K_SEED="$(ML100K_SEED)" TORCH_SPEC="$(TORCH_SPEC)" TORCH_INDEX="$(TORCH_INDEX)" tools/check_wheel.sh $(or $(LESSON),03_matrix_factorization)

# What repo2docker does: a fresh venv from binder/requirements.txt, then the notebook check.
binder-check: data
	DATA_PATH="$(DATA_PATH)" tools/check_binder.sh

# The course as a static website in site/_build/html, from the lessons' stored outputs (tools/site_build.py).
SITE_STAMP := $(VENV)/.site-installed
site-install: $(SITE_STAMP)
$(SITE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,site]"
	touch $@

site: site-install
	$(BIN)/python tools/site_build.py

# The site in headless Chromium (tests/test_site.py); installs Debian's chromium where it is missing
# and apt-get can (root); without it the test skips and says why.
site-check: site-install
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$$CHROMIUM" ] || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium could not be installed: the browser test will skip"
	$(BIN)/python -m pytest -q tests/test_site.py

# Student copies: student/NN_name.ipynb without solutions or outputs (tools/student.py).
student: install
	$(BIN)/python tools/student.py

bench: install data
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/quality.py --test
	$(BIN)/python benchmarks/run.py --growth

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Back to a fresh course without downloading again: removes the lessons' saved artefacts
# ($(DATA_PATH)/artifacts: splits and trained models), Lightning logs and checkpoints, notebook
# checkpoints and test caches. Keeps the MovieLens cache ($(DATA_PATH)/ml-100k), the benchmark data
# and the venv; the lessons rebuild whatever they need on their next run.
reset:
	rm -rf "$(DATA_PATH)/artifacts"
	find . -path ./$(VENV) -prune -o -type d \( -name lightning_logs -o -name .ipynb_checkpoints \) -print \
		| xargs -r rm -rf
	rm -rf .pytest_cache .hypothesis
	@echo "reset: removed artefacts and executed state; kept $(DATA_PATH)/ml-100k"
