# twinbench: the README's two commands. Both set up a fresh machine, then do their job.
#   make demo   rank the scripted policy ladder on the bundled source world and its twin
#   make test   run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.twinbench-installed
APT_PACKAGES := libegl1 libgl1-mesa-dri libusb-1.0-0 libgomp1 ffmpeg chromium
# make test also needs PostgreSQL's server binaries: the store's tests start a throwaway cluster
# (tests/store_backends.py); without them those tests skip, saying so (CI makes them fail).
TEST_APT_PACKAGES := postgresql
PYTEST_WORKERS ?= 2

export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: demo test setup system-deps test-deps lint lerobot-peer

demo: setup
	$(VENV)/bin/twinbench demo

test: setup test-deps
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not manual" --durations=25

# Style, then the import layers and public contracts of ARCHITECTURE.md (pyproject's [tool.importlinter]).
lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo

# lerobot 0.4.4 as a peer that loads our exported datasets (tests/cotrain/test_lerobot_peer.py),
# in its own virtualenv, never in $(VENV). lerobot pins torch<2.11, so it goes in without its
# dependencies, beside the ones LeRobotDataset imports: torch==2.13.0 (CPU), its torchvision
# 0.28.0 and torchcodec 0.13.0 (the video decoder, on the system's FFmpeg). ~2 min, ~1.5 GB.
LEROBOT_PEER := .peers/lerobot-0.4.4
lerobot-peer: $(LEROBOT_PEER)/.installed

$(LEROBOT_PEER)/.installed:
	rm -rf $(LEROBOT_PEER) && $(PYTHON) -m venv $(LEROBOT_PEER)
	$(LEROBOT_PEER)/bin/python -m pip install -q --upgrade pip
	$(LEROBOT_PEER)/bin/python -m pip install -q "torch==2.13.0"
	$(LEROBOT_PEER)/bin/python -m pip install -q "torch==2.13.0" "torchcodec==0.13.0" \
	  "datasets==4.8.5" "huggingface-hub==0.35.3" "accelerate==1.16.0" "av==15.1.0" \
	  "packaging==25.0" "jsonlines==4.0.0" pillow
	$(LEROBOT_PEER)/bin/python -m pip install -q --no-deps "torchvision==0.28.0" "lerobot==0.4.4"
	touch $@

setup: system-deps $(STAMP)

# $(call apt-install,PACKAGES,ELSE): installs what is missing when run as root; otherwise
# prints the exact apt line, then runs ELSE.
define apt-install
missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ]; then \
    echo "installing Debian packages:$$missing"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
  else \
    echo "missing Debian packages; run:  sudo apt-get install -y$$missing"; $(2); \
  fi; \
fi
endef

system-deps:
	@$(call apt-install,$(APT_PACKAGES),exit 1)

test-deps:
	@$(call apt-install,$(TEST_APT_PACKAGES),echo "(without them the PostgreSQL store tests skip)")

# torch==2.13.0 (the CPU build) goes in first so that the project's torch>=2.4 installs nothing more.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0" || $(PY) -m pip install -q "torch>=2.4"
	$(PY) -m pip install -q -e ".[dev]"
	# openpi's real client, as a peer for protocol tests; it pins numpy<2 but works with numpy 2.
	$(PY) -m pip install -q --no-deps "openpi-client==0.1.2" "dm-tree>=0.1.8"
	touch $(STAMP)
