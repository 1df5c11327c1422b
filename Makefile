# Every target does its own set-up, idempotently: a venv in .venv, the CPU torch
# wheel, and the project with its dev extra. Re-running is cheap (a stamp file).
PYTHON ?= python3
VENV ?= .venv
# On a CUDA machine pass the build you want, e.g.
#   make install TORCH_PIP="torch==2.13.0 --index-url <the PyTorch CUDA index for your driver>"
TORCH_PIP ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed.stamp

.PHONY: install test bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	WANDB_MODE=offline $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	@$(BIN)/ivif-bench run --profile quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info
