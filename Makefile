VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT
# Links printed, sent and in QR codes point at the server `make run` starts.
XW_PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: install install-run run test test-fast lint bench messages clean

# Running needs requirements.txt only; tests, lint and benches also need requirements-dev.txt.
$(VENV)/.installed-run: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-compile --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed-run $@

install-run: $(VENV)/.installed-run

install: $(VENV)/.installed

## make run: install what running needs, migrate, seed (and score) the demo once, then web +
## worker + scheduler on $(PORT)
run: install-run
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@if command -v msgfmt >/dev/null; then $(PY) manage.py compilemessages -v0 --ignore=.venv; fi
	$(PY) manage.py collectstatic --noinput -v0
	XW_PUBLIC_BASE_URL=$(XW_PUBLIC_BASE_URL) $(PY) scripts/serve.py

## make test: the whole suite (DATABASE_URL=postgres://… runs it on PostgreSQL)
test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) bench/run_all.py

messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=bench --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf var staticfiles
