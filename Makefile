# The two commands of the README:
#   make demo   install, then show the whole flow on the embedded default (PostgreSQL + Tansu): `fulfil demo`
#   make test   install what the tests need (incl. Apache Kafka from Maven Central) and pass them
# and `make up`: install, then run Fulfil on the embedded default until Ctrl-C (`fulfil up`)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo up test install check unit service integration e2e faults bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/fulfil demo

up: install
	$(BIN)/fulfil up

check: install
	$(BIN)/fulfil schemas export --check
	$(BIN)/ruff check schemas services tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

test: check
	deploy/kafka/broker.sh fetch
	deploy/debian-package.sh chromium chromium "headless browser: the report and the staff pages"
	deploy/debian-package.sh prometheus promtool "promtool: the alert rules' checks"
	$(BIN)/python -c "from services.routing.domain.ruin_recreate import warm_up; warm_up()"  # compiled once, not in each test process
	$(BIN)/pytest -q --durations=10 -n 4 --dist loadfile

unit: install
	$(BIN)/pytest -q tests/unit

service: install
	$(BIN)/pytest -q tests/service

integration: install
	$(BIN)/pytest -q tests/integration

e2e: install
	$(BIN)/pytest -q tests/e2e

# The full fault suite (a shorter run is part of `make test`): Apache Kafka, a three-broker cluster that loses
# two brokers, then the embedded broker.
faults: install
	deploy/kafka/broker.sh fetch
	$(BIN)/python -m tests.faults.suite --broker kafka --orders 3000
	$(BIN)/python -m tests.faults.suite --broker cluster --orders 3000
	$(BIN)/python -m tests.faults.suite --broker tansu --orders 3000

bench: install  # every command of the README's Benchmarks section (tests/e2e/test_readme.py keeps them in step)
	$(BIN)/pip install -e '.[bench]'
	$(BIN)/python bench/orders_intake.py --orders 20000 --workers 1
	$(BIN)/python bench/orders_intake.py --orders 10000 --rate 500
	$(BIN)/python bench/warehouse_allocation.py
	$(BIN)/python bench/warehouse_allocation.py --orders 10000 --rate 500
	$(BIN)/python bench/warehouse_allocation.py --base 5e3af55 --rounds 2
	$(BIN)/python bench/tracking_endpoint.py
	$(BIN)/python bench/routing/solomon.py
	$(BIN)/python bench/routing/solomon.py --time-limit 60 --only fulfil
	$(BIN)/python bench/routing/solomon.py --breaks --only fulfil --only vroom
	$(BIN)/python bench/routing/solomon.py --engine ortools --only fulfil --only pyvrp
	$(BIN)/python bench/routing/large_wave.py

clean:
	rm -rf $(VENV) .fulfil .pytest_cache .mypy_cache
