# Crossclaim: `make run` serves the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export CROSSCLAIM_DATA_DIR ?= var

# Debian packages: WeasyPrint's libraries and a CJK font at run time; Chromium and poppler for tests.
RUNTIME_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-cjk
TEST_DEBS := chromium poppler-utils dovecot-imapd

.PHONY: run test install system-deps test-system-deps bench-system-deps bench-install debs lint bench bench-quick messages clean-data

run: install system-deps
	$(BIN)/crossclaim migrate
	$(BIN)/crossclaim demo
	@echo
	@echo "  Crossclaim: http://127.0.0.1:8000"
	@echo "  Sign in as handler@crossclaim.demo / crossclaim-demo (also admin@, manager@, warehouse@)"
	@echo
	$(BIN)/crossclaim serve --with-worker

test: install system-deps test-system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

system-deps:
	@$(MAKE) --no-print-directory debs DEBS="$(RUNTIME_DEBS)"

test-system-deps:
	@$(MAKE) --no-print-directory debs DEBS="$(TEST_DEBS)"

# Installs what is missing when we are root; otherwise says what to install.
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install these Debian packages:$$missing"; exit 1; fi; \
	fi

bench-system-deps:
	@$(MAKE) --no-print-directory debs DEBS="wrk"

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app
	$(BIN)/lint-imports

bench-install: install
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'

bench: bench-install system-deps bench-system-deps
	$(BIN)/python -m bench

bench-quick: bench-install system-deps bench-system-deps
	$(BIN)/python -m bench --quick

# Extract every translatable string, merge it into each catalogue, and compile the catalogues.
messages: install
	$(BIN)/pybabel extract -F babel.cfg --ignore-dirs='.* __pycache__ node_modules .venv var' -k lazy_gettext -k _l -k N_ -k lazy_pgettext:1c,2 -o app/locale/messages.pot --no-location --omit-header --sort-output .
	$(BIN)/pybabel update -i app/locale/messages.pot -d app/locale -D messages --no-fuzzy-matching --no-wrap
	$(BIN)/pybabel compile -d app/locale -D messages

clean-data:
	rm -rf var
