# stylenet: `make demo` trains and shows a style on the bundled data; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The builds of torch/torchvision on this machine's disk (x86_64, Python 3.11); override for others.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
STYLE ?= starry_night
# STYLE: a bundled painting's name or your own painting's file (STYLE=~/art/hokusai.jpg: the model is hokusai.safetensors)
STYLE_NAME = $(basename $(notdir $(STYLE)))

.PHONY: install demo test test-all train app gpu-kit clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[dev,app]' $(TORCH_PINS)
	touch $@

# Train STYLE on the 100 bundled photos with a short CPU schedule, export, and draw the demo picture.
demo: install
	$(PY) train.py experiment=demo style=$(STYLE)
	$(PY) scripts/demo.py --model outputs/demo/$(STYLE_NAME).safetensors --out outputs/demo/$(STYLE_NAME)_demo.png \
	    $(if $(wildcard $(STYLE)),--style-image $(STYLE))

# Two workers: 11 min 22 s on a 2-core AVX2 EPYC (2026-11-28; one process: ~20 min before the in-process error tests),
# 7 min 23 s on a 2-core Zen 4 EPYC (2026-12-04); PYTEST_WORKERS=0
# runs one process. loadgroup: tests marked xdist_group (the web app's: one server, one browser) share a worker.
PYTEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

train: install
	$(PY) train.py style=$(STYLE)

# The web app on http://127.0.0.1:7860 (offline; PORT=... for another port)
PORT ?= 7860
app: install
	$(PY) -m stylenet.app --port $(PORT)

# Wheels + a photo pack for an air-gapped GPU node in .gpu/ (git-ignored); then send
# `bash scripts/gpu_run.sh` with carry [".gpu"] (see docs/GPU.md).
gpu-kit: install
	$(PY) -m stylenet.bench.kit

clean:
	rm -rf outputs .pytest_cache
