# `make book` builds the website and the PDF from data/; `make test` runs the tests.
# Both set up what they need first: a .venv from the pinned requirements.txt and the Debian TeX packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEX_PACKAGES := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
	texlive-xetex texlive-plain-generic fonts-freefont-otf tex-gyre poppler-utils \
	fonts-noto-cjk fonts-symbola
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
BROWSER_PACKAGES := chromium

.PHONY: book test setup tex browser bench lint clean

book: setup
	$(BIN)/crobook build

test: setup browser
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/bench.py

lint: $(BIN)/crobook
	$(BIN)/ruff check crobook tests bench
	$(BIN)/ruff format --check crobook tests bench

setup: $(BIN)/crobook tex

$(BIN)/crobook: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

# Debian packages: installed when we can (root or password-less sudo); otherwise we say what to install.
define debian
	@if dpkg -s $(1) >/dev/null 2>&1; then exit 0; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(1); \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(1); \
	else \
		echo "$(2) needs these Debian packages, and installing them needs root:"; \
		echo "  sudo apt-get install $(1)"; \
		exit 1; \
	fi
endef

tex:
	$(call debian,$(TEX_PACKAGES),The PDF)

browser:
	$(call debian,$(BROWSER_PACKAGES),The browser tests)

clean:
	rm -rf _build
