# camaudit: every target does its own set-up on a fresh Debian machine (as root).
#   make demo   simulated lab + full audit + dashboard, prints the URL
#   make test   the whole test suite (lint, types, unit, probes, web, lab end-to-end)
#   make bench  benchmarks against nmap / arp-scan / tshark (writes docs/benchmarks.md figures)
#   make fuzz   the fuzz suite with 50x the examples, plus atheris on the byte parsers (docs/reliability.md)

SHELL := /bin/bash
# GStreamer's RTSP server comes from Debian (python3-gi); the venv sees it through
# --system-site-packages, so it must be made with Debian's own python3.
SYS_PYTHON ?= /usr/bin/python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := python3 python3-venv python3-dev python3-gi gir1.2-gst-rtsp-server-1.0 \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-rtsp \
	iproute2 procps gcc
# WeasyPrint (the dashboard's PDF report) loads Pango and HarfBuzz at run time; DejaVu is its font.
APT_PACKAGES += libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# Only for the tests: a real PostgreSQL server, Debian's Chromium (Playwright drives it), and
# debootstrap (tests/install: the installer on a clean Debian chroot, about a minute).
TEST_APT_PACKAGES := postgresql chromium shellcheck debootstrap
BENCH_APT_PACKAGES := nmap arp-scan tshark
STAMP_APT := $(VENV)/.apt-stamp
STAMP_PIP := $(VENV)/.pip-stamp
CAMERAS ?= 24
PORT ?= 8080
HOST ?= 127.0.0.1

.PHONY: all deps test-deps demo test lint typecheck unit bench fuzz lab-up lab-down clean

all: test

$(STAMP_APT):
	@mkdir -p $(VENV)
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		echo ">> apt-get install (system packages for the lab and the venv)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi
	@touch $@

$(STAMP_PIP): $(STAMP_APT) pyproject.toml
	@test -x $(PY) || $(SYS_PYTHON) -m venv --system-site-packages $(VENV)
	@echo ">> pip install -e .[dev] into $(VENV)"
	@$(PY) -m pip install -q --upgrade pip >/dev/null
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $@

deps: $(STAMP_PIP)

demo: deps
	@$(VENV)/bin/camaudit demo --cameras $(CAMERAS) --host $(HOST) --port $(PORT)

lint: deps
	@$(VENV)/bin/ruff check auditor probes web deploy/lab/camlab tests
	@$(VENV)/bin/ruff format --check auditor probes web deploy/lab/camlab tests

typecheck: deps
	@$(VENV)/bin/mypy

test-deps: deps
	@if ! dpkg -s $(TEST_APT_PACKAGES) >/dev/null 2>&1; then \
		echo ">> apt-get install $(TEST_APT_PACKAGES) (test-only system packages)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(TEST_APT_PACKAGES) >/dev/null; \
	fi

unit: deps test-deps
	@$(PY) -m pytest -W error -q

test: lint typecheck unit

bench: deps
	@if ! dpkg -s $(BENCH_APT_PACKAGES) >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_APT_PACKAGES) >/dev/null; fi
	@$(PY) -m pytest -W error -q -s tests/bench -p no:cacheprovider -o testpaths=tests/bench -o "norecursedirs=.* *.egg"

# FUZZ_SECONDS bounds each atheris target (atheris is optional: skipped if it will not install).
FUZZ_SECONDS ?= 60
fuzz: deps
	@HYPOTHESIS_PROFILE=long $(PY) -m pytest -W error -q tests/fuzz -p no:cacheprovider
	@$(PY) -c "import atheris" 2>/dev/null || $(PY) -m pip install -q atheris || \
		echo ">> atheris did not install: hypothesis only"
	@if $(PY) -c "import atheris" 2>/dev/null; then \
		for t in x509 wsdiscovery rtsp http vendor_port sdp; do \
			$(PY) tests/fuzz/atheris_targets.py $$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
				|| exit 1; \
		done; fi

lab-up: deps
	@$(VENV)/bin/camaudit lab up --cameras $(CAMERAS)

lab-down: deps
	@$(VENV)/bin/camaudit lab down

clean: lab-down
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
