# Two entry points do all set-up on a fresh machine (README): `make report` and `make test`.
# The virtual environment is created and the pinned dependencies installed on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= out

.PHONY: report test install lint typecheck lab notebooks clean

# Quiet set-up: one line per step; the full pip/npm output goes to $(LOG), and a failing step's
# whole output is printed (then its exit status stops make).
LOG    := $(VENV)/install.log
STEP    = run_step() { printf '%s\n' "$$1"; shift; echo "== $$*" >>$(LOG); \
	      "$$@" >$(LOG).step 2>&1; status=$$?; cat $(LOG).step >>$(LOG); \
	      if [ $$status -ne 0 ]; then cat $(LOG).step; rm -f $(LOG).step; \
	        echo "failed (exit $$status): $$*; full log: $(LOG)"; exit $$status; fi; \
	      rm -f $(LOG).step; }; run_step

$(STAMP): pyproject.toml constraints.txt setup.py geo/assets/package.json geo/assets/package-lock.json
	@test -x $(PY) || { echo "[1/4] creating the virtual environment $(VENV)"; \
	  $(PYTHON) -m venv $(VENV) || exit $$?; }
	@: > $(LOG)
	@$(STEP) "[2/4] updating pip (log: $(LOG))" $(PY) -m pip install --upgrade pip
	@$(STEP) "[3/4] installing geo and its pinned dependencies" \
	  $(PY) -m pip install -c constraints.txt -e '.[test]'
	@# Leaflet & co. for offline, self-contained maps (geo/map_assets.py); never committed.
	@$(STEP) "[4/4] installing the map assets (npm ci --prefix geo/assets)" \
	  npm ci --prefix geo/assets --no-audit --no-fund
	@touch $(STAMP)
	@echo "set-up done"

install: $(STAMP)

# Main job: the Tongzhou report (prints where index.html is).
report: $(STAMP)
	$(PY) -m geo report --area tongzhou --out $(OUT)/tongzhou

# Every test: lint, type check, unit, real-data (../shared/data when present), notebooks, browser.
test: lint typecheck
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check geo tests bench notebooks setup.py

# mypy on geo/ with the [tool.mypy] settings of pyproject.toml (one summary line when clean).
typecheck: $(STAMP)
	$(PY) -m mypy

# The notebooks in JupyterLab, on the project's environment (its kernel imports this checkout).
lab notebooks: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache
