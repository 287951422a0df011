# Set-up and everyday commands. Every target creates what it needs in .venv first,
# so `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test bench lint clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) install -q -e '.[bench]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/brainoptim compare

test: $(VENV)/.installed-test
	$(PY) -m pytest -n 2 -q

bench: $(VENV)/.installed-bench
	$(PY) bench/run.py

lint:
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples

clean:
	rm -rf $(VENV) results .pytest_cache
