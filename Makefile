# Two entry points for people: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)

.PHONY: venv test demo bench extension blender clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

test: venv
	$(PY) -m pytest -q -ra

demo: venv
	$(PY) scripts/demo.py --out out

bench: venv
	$(PY) scripts/bench.py

extension: venv
	$(PY) scripts/build_extension.py --out dist

# A real Blender >= 4.2 for the tests ($BLENDER, else Debian 13's, built once; see docs/blender.md).
blender:
	@scripts/get_blender.sh

clean:
	rm -rf out dist build .pytest_cache
