# The two set-up commands of the README: `make run` and `make test`.
# Each creates the project's own virtual environment on first use and
# reinstalls when pyproject.toml changes, so a fresh checkout needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
WEB_NODE := clients/web/vendor/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed $(WEB_NODE)
	$(BIN)/chatserver serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

pytest: $(VENV)/.installed bench/node_modules/.installed $(WEB_NODE) $(CHROMIUM)
	$(BIN)/pytest

# The browser side (clients/web): @msgpack/msgpack from clients/web's lockfile,
# copied as plain ES modules where the pages (and Node's tests) import it.
$(WEB_NODE): clients/web/package.json clients/web/package-lock.json
	cd clients/web && npm ci --no-audit --no-fund --loglevel=error
	rm -rf clients/web/vendor && mkdir -p clients/web/vendor/msgpack
	cp -r clients/web/node_modules/@msgpack/msgpack/dist.esm/. clients/web/vendor/msgpack/
	cp clients/web/node_modules/@msgpack/msgpack/LICENSE clients/web/vendor/msgpack/
	touch $@

# Browser tests drive Debian's Chromium through Playwright; never a browser
# build of Playwright's own.
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

test: lint pytest

# The store tests run their own redis-server (tests/redis_server.py: a free
# port, no persistence, stopped by its pid), never the system's service; this
# rule only installs Debian's package when the binary is missing. (On a host
# with an init system the package starts its service; a container's
# policy-rc.d forbids that. The tests neither use nor touch it.)
REDIS_SERVER := /usr/bin/redis-server
pytest: $(REDIS_SERVER)
$(REDIS_SERVER):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null

# The benchmark (issue 3, docs/performance.md). Its Node side (load generator,
# socket.io reference) installs from bench/package-lock.json; `make test` needs
# it too, for the benchmark's smoke test.
BENCH_NODE := bench/node_modules/.installed

.PHONY: bench bench-smoke

$(BENCH_NODE): bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: $(VENV)/.installed $(BENCH_NODE)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-smoke: $(VENV)/.installed $(BENCH_NODE)
	$(BIN)/python -m bench.run --smoke $(BENCH_ARGS)

# The abuse and fault runs at full size (issue 16); `make test` runs them short.
.PHONY: soak
soak: $(VENV)/.installed
	SOAK_SECONDS=30 FUZZ_SECONDS=30 $(BIN)/pytest -s tests/clients/test_reconnect_storm.py \
		tests/chatserver/test_login_burst.py tests/chatserver/test_store_failure.py \
		tests/chatserver/test_fuzz_soak.py tests/chatserver/test_restart_process.py

clean:
	rm -rf $(VENV) clients/web/vendor clients/web/node_modules .pytest_cache .mypy_cache .ruff_cache

# The window after a removal (docs/performance.md): rooms of 8 and 4 on loopback,
# 10 rounds each by default, under 2 minutes. REMOVAL_ARGS="--rounds 20 --sizes 8".
.PHONY: bench-removal
bench-removal: $(VENV)/.installed
	$(BIN)/python -m bench.removal_window $(REMOVAL_ARGS)

# The reverse-proxy tests (tests/chatserver/test_haproxy.py, docs/operations.md
# 2.4) run Debian's haproxy in the foreground with a config of their own
# (tests/haproxy_rig.py: a free port, stopped by its pid); this rule only
# installs the package when the binary is missing. The tests neither use nor
# touch the package's system service.
HAPROXY := /usr/sbin/haproxy
pytest: $(HAPROXY)
$(HAPROXY):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
