# Two commands matter: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

ASSETS := node_modules/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: run test install lint db seed clean browser messages system lock


# Every Python package at the exact version and hash of requirements.lock; careplan
# itself on top, without resolving anything again.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# After changing pyproject.toml's dependencies, or to take newer releases: refresh the
# lock (the newest versions the ranges allow), then run `make test`.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --extra dev -o requirements.lock pyproject.toml

# htmx, the fonts, Swagger UI (the API page) and axe-core (browser tests) come from the npm registry, pinned by package-lock.json, and are
# served from node_modules at /static/vendor: installed, never copied into the repo. No
# install scripts run (swagger-ui-dist's @scarf/scarf would report the install).
$(ASSETS): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(ASSETS)

# Guidance sheets: WeasyPrint lays out with Pango and subsets fonts with HarfBuzz; the
# Chinese font is Debian's Noto Sans CJK, embedded in every PDF; poppler-utils reads PDFs
# back in the tests; pg_dump and pg_restore back up PostgreSQL (any installed version's
# client will do); nginx is the reverse proxy of docs/deploy.md, which the tests run in
# front of two app processes (with a config of their own: a system nginx the package
# may start on port 80 is not used). Installed from Debian's packages when missing.
SYSTEM_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils \
  nginx wrk

system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	command -v pg_dump >/dev/null || missing="$$missing postgresql-client"; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing $$missing"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

install: system $(STAMP) $(ASSETS)

# Browser tests drive Debian's chromium (never a browser download); PDFs are read back
# with poppler-utils.
browser:
	@test -x $(CHROMIUM) || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

db: install
	mkdir -p var
	$(BIN)/careplan db upgrade
	$(BIN)/careplan protocols load

seed: db
	$(BIN)/careplan demo seed --if-empty

# The server, and beside it a job consumer (sheet batches, large till imports) on the
# queue in var/jobs.db: `careplan serve` starts and stops it.
run: seed
	$(BIN)/careplan serve

lint: install
	$(BIN)/ruff check careplan web tests migrations benchmarks scripts
	$(BIN)/mypy careplan

# The tests run on TEST_WORKERS processes (pytest-xdist), each with databases of its own,
# and the 15 slowest are printed at the end.
TEST_WORKERS ?= 3
test: install lint browser
	$(BIN)/pytest -q -n $(TEST_WORKERS) --durations=15

# After changing a page's words: refresh the catalogues, then translate web/translations/zh_CN.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project careplan \
	  -o web/translations/messages.pot .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) node_modules var/*.db var/*.db-wal var/*.db-shm
