# The few commands people type. `make demo` and `make test` work on a fresh
# Debian machine: they install what is missing first.
PYO3_PYTHON ?= /usr/bin/python3
export PYO3_PYTHON
CARGO ?= cargo
SO := target/release/mod_pyrite.so
DEMO_DIR ?= /tmp/mod_pyrite-demo
DEMO_PORT ?= 8080

.PHONY: all build deps test soak fuzz demo demo-stop bench install clean

all: build

deps:
	@scripts/install-deps.sh

build:
	$(CARGO) build --release
	# Copied beside and renamed: overwriting a .so a running httpd has mapped crashes it (SIGBUS).
	cp -f target/release/libmod_pyrite.so $(SO).tmp && mv -f $(SO).tmp $(SO)
	@echo "built $(SO)"

# Builds the module, checks the formatting (cargo fmt) and the lints (cargo
# clippy, every target, warnings as errors), then runs the unit tests and the
# integration tests, which start real httpd instances (prefork, worker, event)
# on loopback ports.
test: deps build
	$(CARGO) fmt -- --check
	$(CARGO) clippy --all-targets --release -- -D warnings
	$(CARGO) test --release

# The long reliability runs (restarts, recycling, a million requests, fuzzing):
# see docs/reliability.md. Takes about 20 minutes.
soak: deps build
	@scripts/soak.sh

# Only the cargo-fuzz targets, FUZZ_SECONDS (default 60) each.
fuzz:
	@scripts/fuzz.sh

# Starts httpd on 127.0.0.1:$(DEMO_PORT) with the example handler.
demo: deps build
	@scripts/demo.sh start "$(CURDIR)/$(SO)" "$(DEMO_DIR)" "$(DEMO_PORT)"

demo-stop:
	@scripts/demo.sh stop "$(CURDIR)/$(SO)" "$(DEMO_DIR)" "$(DEMO_PORT)"

# Side-by-side throughput and latency against the reference modules.
bench: deps build
	PYRITE_SO=$(CURDIR)/$(SO) benches/bench.sh c_handler static handler wsgi mod_wsgi mod_python

# Installs into Debian's httpd layout (then: a2enmod pyrite), and mod_python's
# command-line tool as $(PREFIX)/bin/mod_python with the pure-Python package it
# reads (httpdconf) in $(PREFIX)/share/mod_pyrite/python.
PREFIX ?= /usr/local
install: build
	install -m 644 $(SO) $$(apxs -q LIBEXECDIR)/mod_pyrite.so
	install -m 644 apache-conf/pyrite.load /etc/apache2/mods-available/pyrite.load
	install -m 644 apache-conf/pyrite.conf /etc/apache2/mods-available/pyrite.conf
	install -d $(PREFIX)/bin $(PREFIX)/share/mod_pyrite/python/mod_python
	install -m 644 python/mod_python/*.py $(PREFIX)/share/mod_pyrite/python/mod_python/
	install -m 755 scripts/mod_python $(PREFIX)/bin/mod_python

clean:
	$(CARGO) clean
