# Two entry points do all set-up on a fresh machine (README): `make report` and `make test`.
# The virtual environment is created and the pinned dependencies installed on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= out

.PHONY: report test install lint clean

$(STAMP): pyproject.toml constraints.txt geo/assets/package.json geo/assets/package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@# Leaflet & co. for offline, self-contained maps (geo/map_assets.py); never committed.
	npm ci --prefix geo/assets --no-audit --no-fund
	touch $(STAMP)

install: $(STAMP)

# Main job: the Tongzhou report (prints where index.html is).
report: $(STAMP)
	$(PY) -m geo report --area tongzhou --out $(OUT)/tongzhou

# Every test: lint, unit, real-data (../shared/data when present), notebooks, browser.
test: lint
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check geo tests bench notebooks

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
