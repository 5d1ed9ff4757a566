# Developer and CI entry points. Everything installs itself: a fresh Debian 12
# machine needs only python3 (>= 3.11), make and network access to the package
# registries.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=
# The suite mostly waits on simulators and browsers, not on the CPU: more
# workers than cores pays (tests/README.md): on 2 cores 10 workers took
# 317 s, 8 took 346 s (275 s with 10 since).  PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 10
# One test module per worker at a time: a module's shared servers stay in
# one process and its tests run in file order; modules are handed out in
# collection order, the slowest first (SLOWEST_MODULES in tests/conftest.py).
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# sudo only when we are not root and it exists; apt never asks questions.
SUDO := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then echo sudo; fi)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: run test lint bench clean setup indi-bin chromium astrometry astrometry-index

run: setup
	$(VENV)/bin/indiws $(ARGS)

# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE):
# every xdist worker, service process and simulator's `gsc` would compile the same
# sources again, and pytest would re-rewrite the asserts of every test module and
# plugin in each worker (9 s of CPU a worker, 3 s with the cache).  One collection
# first fills the cache, so the workers starting side by side only read it.
PYTEST_ENV := env -u PYTHONDONTWRITEBYTECODE

test: setup
	$(VENV)/bin/ruff check .
	@$(PYTEST_ENV) $(VENV_PY) -m pytest --collect-only -q -p no:cacheprovider >/dev/null || true
	$(PYTEST_ENV) $(VENV_PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# First the scripts' smoke tests (each runs a script briefly and checks its
# report), then every script for its figures (not suite_cpu.py: it runs the
# whole `make test`, by hand: tests/README.md).
bench: setup
	$(PYTEST_ENV) $(VENV_PY) -m pytest -m bench $(PYTEST_PARALLEL) $(PYTEST_ARGS)
	@set -e; found=0; \
	for script in bench/*.py; do \
		[ -e "$$script" ] || continue; \
		case "$$script" in *_driver.py|*/suite_cpu.py) continue;; esac; found=1; \
		echo "== $$script"; \
		$(VENV_PY) "$$script"; \
	done; \
	[ "$$found" = 1 ] || echo "no benchmark scripts in bench/"

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

setup: indi-bin chromium astrometry $(STAMP)

# INDI's server and simulator drivers come from Debian's indi-bin; install it
# only when indiserver is missing, so machines with their own INDI keep it.
indi-bin:
	@if ! command -v indiserver >/dev/null 2>&1; then \
		echo "indiserver not found: installing Debian's indi-bin"; \
		$(APT) update && $(APT) install -y indi-bin; \
	fi

# The panel's browser tests drive Debian's chromium (Playwright never downloads
# a browser here); install it only when there is none.
chromium:
	@if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then \
		echo "chromium not found: installing Debian's chromium"; \
		$(APT) update && $(APT) install -y chromium; \
	fi

# Plate solving: Debian's astrometry.net (solve-field, build-astrometry-index),
# only when missing.  The simulated sky's index files are built on demand
# (docs/analysis.md); real skies need Debian's astrometry-data-* packages for
# the field of view: `make astrometry-index FOV=25x20` (arcminutes) installs them.
astrometry:
	@if ! command -v solve-field >/dev/null 2>&1 || ! command -v build-astrometry-index >/dev/null 2>&1; then \
		echo "solve-field not found: installing Debian's astrometry.net"; \
		$(APT) update && $(APT) install -y --no-install-recommends astrometry.net; \
	fi
	@ls /usr/share/astrometry/index-4*.fits* >/dev/null 2>&1 || \
		echo "note: no astrometry.net index files: real skies need them (the simulators' do not); run" \
		"'make astrometry-index FOV=<width>x<height>' (arcminutes) to install the right ones"

# The astrometry-data-* packages a field of view needs (FOV=WIDTHxHEIGHT in
# arcminutes): those of Debian's main (Tycho-2) are installed; the 2MASS ones
# a field under about half a degree also needs are in contrib and download
# gigabytes, so they are only named.
FOV ?=
astrometry-index: $(STAMP)
	@[ -n "$(FOV)" ] || { echo "give the field: make astrometry-index FOV=25x20 (arcminutes)" >&2; exit 2; }
	@$(VENV_PY) -m indiws.analysis.indexes "$(FOV)"
	@packages="$$($(VENV_PY) -m indiws.analysis.indexes --packages main "$(FOV)")"; \
	if [ -n "$$packages" ]; then $(APT) update && $(APT) install -y $$packages; fi
	@packages="$$($(VENV_PY) -m indiws.analysis.indexes --packages contrib "$(FOV)")"; \
	if [ -n "$$packages" ]; then \
		echo "also needed, from Debian's contrib (enable it in /etc/apt/sources.list.d, then):"; \
		echo "  apt-get install $$packages"; \
	fi

# Debian's own python3 ships venv/ensurepip in the separate python3-venv.
$(VENV_PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
		echo "error: $(PYTHON) not found; indiws needs Python >= 3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: indiws needs Python >= 3.11, but $(PYTHON) is $$($(PYTHON) -V 2>&1)." >&2; \
		echo "       Run with PYTHON=/path/to/python3.11 (or newer)." >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
		echo "python venv support missing: installing Debian's python3-venv"; \
		$(APT) update && $(APT) install -y python3-venv; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(VENV_PY)
	$(VENV_PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	touch $@
