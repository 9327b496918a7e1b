# Two entry points for people: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
CORES  := $(shell nproc 2>/dev/null || echo 2)

.PHONY: venv test check lint demo bench bench-engine peers extension blender clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

test: venv lint
	$(PY) -m pytest -q -ra

# The quick tier while working: lint and everything but real Blender, the installer, the farm and
# the benchmark's harness (tests/conftest.py, FULL_TIER_FILES), one pytest worker per core, each
# file on one worker, one torch thread each (docs/contributing.md says why). CI runs `make test`.
check: venv lint
	TEXTURE_FORGE_THREADS=1 $(PY) -m pytest -q -ra -m "not full" -n $(CORES) --dist loadfile

lint: venv
	$(VENV)/bin/ruff check .

demo: venv
	$(PY) scripts/demo.py --out out

# The reference set against G'MIC and Resynthesizer (`make peers` installs them, as root);
# e.g. make bench BENCH_ARGS="--sizes 256,512,1024 --quality default,draft"
# Large outputs (1024², 2048², 4096² on CUDA) against procedural truths: make bench BENCH_ARGS="--suite large"
bench: venv
	$(PY) scripts/bench.py $(BENCH_ARGS)

bench-engine: venv
	$(PY) scripts/bench.py --suite engine $(BENCH_ARGS)

peers:
	scripts/get_peers.sh

extension: venv
	$(PY) scripts/build_extension.py --out dist

# A real Blender >= 4.2 for the tests ($BLENDER, else Debian 13's, built once; see docs/blender.md).
blender:
	@scripts/get_blender.sh

clean:
	rm -rf out dist build .pytest_cache
