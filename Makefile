# The water utility's customer system: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATABASE ?= water
CONFIG ?= $(if $(wildcard trytond.conf),trytond.conf,trytond.conf.example)
ADMIN_PASSWORD ?= water-admin
MODULES := water_crm water_billing water_payment_gateway
SAO := web/node_modules/tryton-sao
# The local bank simulator that the demo's gateways pay at
BANK_SIMULATOR_PORT ?= 8010
export TRYTOND_CONFIG := $(CURDIR)/$(CONFIG)
export TRYTOND_DATABASE__PATH ?= $(CURDIR)/var/db
export TRYTOND_WEB__ROOT ?= $(CURDIR)/var/www
export TRYTOND_WATER__BANK_SIMULATOR ?= http://127.0.0.1:$(BANK_SIMULATOR_PORT)

.PHONY: run setup install test clean

run: setup
	@echo
	@echo "  Back office (Tryton web client): http://localhost:8000/"
	@echo "      database $(DATABASE), login admin, password $(ADMIN_PASSWORD)"
	@echo "      staff demo users service, reader, billing: password water-demo"
	@echo "  Customer portal:                 http://localhost:8000/portal/"
	@echo "      subscription 1421 (or mobile 09121234567), password water-1421"
	@echo "  Bank simulator (pays the demo's online payments, no real money):"
	@echo "      http://127.0.0.1:$(BANK_SIMULATOR_PORT)/"
	@echo "  Scheduled jobs (SMS delivery, payment recovery) run in trytond-cron."
	@echo
	$(BIN)/water bank-simulator --port $(BANK_SIMULATOR_PORT) & simulator=$$!; \
		$(BIN)/trytond-cron -c $(CONFIG) -d $(DATABASE) & cron=$$!; \
		trap 'kill $$simulator $$cron 2>/dev/null' EXIT INT TERM; \
		$(BIN)/trytond -c $(CONFIG) -d $(DATABASE)

setup: install var/admin-password
	$(BIN)/water -c $(CONFIG) -d $(DATABASE) setup --demo \
		--password-file var/admin-password --stamp var/$(DATABASE).modules

install: $(VENV)/.installed var/www/.installed

$(VENV)/.installed: requirements.txt $(foreach m,$(MODULES),addons/$(m)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt \
		$(foreach m,$(MODULES),-e addons/$(m))
	touch $@

var/www/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p var/db var/www/portal/vendor
	for f in index.html dist images locale sounds; do \
		ln -sfn $(CURDIR)/$(SAO)/$$f var/www/$$f; done
	ln -sfn $(CURDIR)/web/node_modules var/www/node_modules
	ln -sfn $(CURDIR)/web/node_modules/bootstrap5/dist var/www/portal/vendor/bootstrap
	ln -sfn $(CURDIR)/web/node_modules/vazirmatn var/www/portal/vendor/vazirmatn
	touch $@

var/admin-password:
	mkdir -p var
	echo '$(ADMIN_PASSWORD)' > $@

test: install
	$(BIN)/python tests/run.py

clean:
	rm -rf var $(VENV) web/node_modules
