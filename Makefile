# Every target installs what it needs into .venv first: on a fresh machine `make demo` and
# `make test` are the whole set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXAMPLE := examples/accounts

.PHONY: install demo test test-partitioned test-slow test-wheel fuzz lint golden bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	cd $(EXAMPLE) && rm -f accounts.db && ../../$(BIN)/eventspec generate \
		&& ../../$(BIN)/alembic upgrade head && ../../$(BIN)/python demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not slow and not fuzz"

# The action, replay, follower, archive and CLI suites again, with every event log of the accounts
# example and the features project partitioned (tests/partitioned_variants.py), on PostgreSQL.
test-partitioned: $(STAMP)
	EVENTSPEC_TEST_PARTITIONED=1 $(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not slow and not fuzz" -k postgresql $(PARTITIONED_SUITES)

PARTITIONED_SUITES = tests/test_actions.py tests/test_actions_features.py tests/test_bulk.py \
	tests/test_replay.py tests/test_replay_features.py tests/test_verify.py tests/test_rehearse.py \
	tests/test_follow.py tests/test_follow_cli.py tests/test_audit_cli.py tests/test_faults.py \
	tests/test_encryption.py tests/test_rotate_keys.py tests/test_wire.py tests/test_archive.py \
	tests/aio

# The long profiles of the property tests (marked slow).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m "slow and not fuzz"

# A wheel of this checkout, installed in a fresh virtualenv: init, generate, alembic upgrade head,
# generate --check, an action, on SQLite and PostgreSQL (about two minutes; in make test-slow too).
test-wheel: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests/test_wheel.py

# The long spec fuzz profile: 10,200 mutated specs through validate and generate (three shards).
fuzz: $(STAMP)
	$(BIN)/python -m pytest -n 3 -m fuzz -q -s tests/test_fuzz_specs.py

lint: $(STAMP)
	$(BIN)/ruff check generator templates/runtime tests bench
	$(BIN)/ruff format --check generator templates/runtime tests bench
	$(BIN)/mypy

golden: $(STAMP)
	$(BIN)/python tests/regen_golden.py
	$(BIN)/python -m bench.regen

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

# CI only checks that the benchmarks run; numbers come from `make bench` on a quiet machine.
bench-smoke: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench --quick --output $(VENV)/bench-smoke.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
