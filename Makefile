# Two commands matter: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint db seed clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

db: install
	mkdir -p var
	$(BIN)/careplan db upgrade
	$(BIN)/careplan protocols load

seed: db
	$(BIN)/careplan demo seed --if-empty

run: seed
	$(BIN)/careplan serve

lint: install
	$(BIN)/ruff check careplan web tests migrations

test: install lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) var/*.db var/*.db-wal var/*.db-shm
