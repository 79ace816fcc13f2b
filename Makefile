# `make book` builds the website and the PDF from data/; `make test` runs the tests.
# Both set up what they need first: a .venv from the pinned requirements.txt and the Debian TeX packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEX_PACKAGES := latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
	texlive-xetex texlive-plain-generic fonts-freefont-otf tex-gyre

.PHONY: book test setup tex bench lint clean

book: setup
	$(BIN)/crobook build

test: setup
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

# The PDF needs TeX from Debian. Install it when we can (root or password-less sudo); otherwise say what to install.
tex:
	@if dpkg -s $(TEX_PACKAGES) >/dev/null 2>&1; then exit 0; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(TEX_PACKAGES); \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(TEX_PACKAGES); \
	else \
		echo "The PDF needs these Debian packages, and installing them needs root:"; \
		echo "  sudo apt-get install $(TEX_PACKAGES)"; \
		exit 1; \
	fi

clean:
	rm -rf _build
