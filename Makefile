# Estuary: one command per job on a fresh Debian/Ubuntu machine.
#   make demo   build, make example silos, mount, walk through, unmount
#   make test   unit and integration tests (mounts real FUSE file systems; needs root)

PREFIX      ?= /usr/local
SBINDIR     ?= /sbin
SWIFT       ?= swift
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PACKAGES   := libfuse3-dev fuse3 libsqlite3-dev libxxhash-dev liburing-dev libpq-dev attr
# The real-workload tests run these programs through the mount.
TEST_PACKAGES  := gcc make git rsync sqlite3 tar python3 postgresql
BENCH_PACKAGES := mergerfs fio
RELEASE_BIN := .build/release

.PHONY: deps bench-deps build debug test soak demo install uninstall bench bench-quick bench-scan clean

deps:
	@missing=""; for p in $(DEB_PACKAGES) $(if $(filter test soak,$(MAKECMDGOALS)),$(TEST_PACKAGES)); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

bench-deps: deps
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

debug: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# The long forms of the data-safety and fault tests, bounded (about 25 minutes): 50 kill -9
# points during tier moves, 3 minutes of 16 clients with moves and scans, 20,000 fuzzed
# control requests, 16 x 2,000 random operations per silo layout (with exec and tier moves),
# 10 rounds of every real workload under moves, 2 minutes of MAP_SHARED writers during moves;
# the parsers' property tests.
soak: deps
	$(SWIFT) build --build-tests
	ESTUARY_CRASH_ITERATIONS=50 ESTUARY_LOAD_SECONDS=180 ESTUARY_FUZZ_ROUNDS=20000 ESTUARY_RANDOM_SEEDS=16 \
	  ESTUARY_WORKLOAD_ROUNDS=10 ESTUARY_MMAP_MOVE_SECONDS=120 \
	  $(SWIFT) test --skip-build --filter 'TieringTests|LoadTests|HostileInputTests|FaultTests|PosixRandomOps|Fuzz|RealProgramTests|MmapMove'

demo: build
	./examples/demo.sh $(RELEASE_BIN)

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR)
	install -m 755 $(RELEASE_BIN)/estuaryfs $(RELEASE_BIN)/estuary $(DESTDIR)$(PREFIX)/bin/
	install -m 755 mount-helpers/mount.estuary $(DESTDIR)$(SBINDIR)/mount.estuary
	ln -sf mount.estuary $(DESTDIR)$(SBINDIR)/mount.fuse.estuaryfs
	@echo "installed: $(PREFIX)/bin/estuaryfs, $(PREFIX)/bin/estuary, $(SBINDIR)/mount.estuary, $(SBINDIR)/mount.fuse.estuaryfs"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/estuaryfs $(DESTDIR)$(PREFIX)/bin/estuary
	rm -f $(DESTDIR)$(SBINDIR)/mount.estuary $(DESTDIR)$(SBINDIR)/mount.fuse.estuaryfs

bench: build bench-deps
	python3 bench/run.py --bin-dir $(RELEASE_BIN) $(BENCH_ARGS)

bench-quick: build bench-deps
	python3 bench/run.py --quick --bin-dir $(RELEASE_BIN) $(BENCH_ARGS)

bench-scan: build bench-deps
	python3 bench/run.py --only scan --bin-dir $(RELEASE_BIN) $(BENCH_ARGS)

clean:
	rm -rf .build
