# camvisor: two commands on a fresh machine.
#   make run    install what is missing, build, start the demo (camsim + camvisor)
#   make test   install what is missing, run the whole suite
# Also: make build (needs only Go, gcc and git), make dist (release
# tarballs), make image (the container image), make bench, make bench-cost
# (camvisor's own CPU per capture, by stage), make fuzz, make deps,
# make clean, make run-cluster (three nodes on etcd).

SHELL := /bin/bash
GO ?= go
BIN := bin
DEMO := demo
DIST ?= dist
# Architectures make dist builds (linux/...).
DIST_ARCHES ?= amd64 arm64

# What `camvisor version` prints: the version (git describe), the commit
# and the build date (UTC; SOURCE_DATE_EPOCH for a reproducible build).
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE := $(shell date -u -d "@$${SOURCE_DATE_EPOCH:-$$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

# The files of a release directory besides the binary (cmd/camvisor/...):
# TestDistTarball holds the tarball to this list and INSTALL.md's steps.
DIST_FILES := camvisor.service camvisor.sysusers camvisor.example.yaml camvisor.rules.yml Dockerfile INSTALL.md CAMERAS.md

# cgo (SQLite) needs a C compiler for each architecture: the native gcc,
# or Debian's cross compiler.
HOST_ARCH := $(shell $(GO) env GOHOSTARCH 2>/dev/null || echo amd64)
CC_amd64 := $(if $(filter amd64,$(HOST_ARCH)),gcc,x86_64-linux-gnu-gcc)
CC_arm64 := $(if $(filter arm64,$(HOST_ARCH)),gcc,aarch64-linux-gnu-gcc)

# Debian packages each target needs: what to look for -> package. A
# program is looked up in PATH, a path must exist.
DEB_BUILD := gcc:gcc git:git
DEB_RUN := $(DEB_BUILD) ffmpeg:ffmpeg
DEB_TEST := $(DEB_RUN) sqlite3:sqlite3 chromium:chromium tini:tini etcd:etcd-server /usr/sbin/mosquitto:mosquitto
DEB_CROSS_arm64 := aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu /usr/aarch64-linux-gnu/include/stdio.h:libc6-dev-arm64-cross
DEB_CROSS_amd64 := x86_64-linux-gnu-gcc:gcc-x86-64-linux-gnu /usr/x86_64-linux-gnu/include/stdio.h:libc6-dev-amd64-cross
DEB_DIST := $(DEB_BUILD) $(foreach a,$(filter-out $(HOST_ARCH),$(DIST_ARCHES)),$(DEB_CROSS_$(a)))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build run run-cluster test dist image bench bench-cost fuzz deps deps-build deps-run deps-test deps-dist clean

all: build

# apt-install installs the packages of the pairs in $(1) whose program or
# file is missing.
define apt-install
	@missing=""; for pair in $(1); do \
	  what=$${pair%%:*}; pkg=$${pair##*:}; \
	  case $$what in /*) [ -e $$what ] ;; *) command -v $$what >/dev/null 2>&1 ;; esac || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go is not installed: see cmd/camvisor/INSTALL.md (Go 1.26 from go.dev/dl)"; exit 1; }
	@$(GO) mod download
endef

deps-build:
	$(call apt-install,$(DEB_BUILD))
deps-run:
	$(call apt-install,$(DEB_RUN))
deps-test:
	$(call apt-install,$(DEB_TEST))
deps-dist:
	$(call apt-install,$(DEB_DIST))
# Everything the suite and the demo need.
deps: deps-test

build: deps-build
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/camvisor ./cmd/camvisor
	$(GO) build -o $(BIN)/camsim ./cmd/camsim

# The demo: camsim serves six cameras (front; garage, which refuses a third
# connection; attic, hung; yard, with motion; porch, which drops the stream;
# lobby, H.264, patrolled in stream mode); camvisor patrols them.
# Ctrl-C stops both; camvisor kills every ffmpeg it started before exiting.
run: deps-run build
	@mkdir -p $(DEMO)
	@$(BIN)/camsim -rtsp 127.0.0.1:8554 -http 127.0.0.1:8555 -user admin -pass demo-secret \
	  -camera front,mode=pattern -camera garage,max=2 -camera attic,hang \
	  -camera yard,mode=motion,max=4 -camera porch,drop=1s,max=2 -camera lobby,codec=h264,mode=motion,max=2 > $(DEMO)/camsim.log 2>&1 & \
	camsim=$$!; trap 'kill $$camsim 2>/dev/null; wait $$camsim 2>/dev/null' EXIT; \
	for i in $$(seq 50); do curl -fsS http://127.0.0.1:8555/stats >/dev/null 2>&1 && break; \
	  kill -0 $$camsim 2>/dev/null || { cat $(DEMO)/camsim.log; exit 1; }; sleep 0.1; done; \
	echo; echo "camsim cameras:    rtsp://admin:***@127.0.0.1:8554/{front,garage,attic,yard,porch,lobby}"; \
	echo "camera-side stats: http://127.0.0.1:8555/stats"; \
	echo "record:            $(DEMO)/camvisor.db"; \
	echo "stop with Ctrl-C"; echo; \
	$(BIN)/camvisor run --config cmd/camvisor/camvisor.example.yaml --db $(DEMO)/camvisor.db

# The cluster demo (actors/CLUSTER.md): etcd, camsim with nine cameras
# (max=2 each) and three camvisor nodes reading one file,
# cmd/camvisor/camvisor.cluster.yaml; each camera is run by one node.
# Ctrl-C stops the nodes (each hands its cameras over), then camsim and
# etcd: no process is left.
CLUSTER_DEMO := $(DEMO)/cluster
run-cluster: deps-run build
	$(call apt-install,etcd:etcd-server)
	@mkdir -p $(CLUSTER_DEMO)
	@nodes=""; others=""; \
	trap 'trap "" INT TERM; kill -TERM $$nodes 2>/dev/null; wait $$nodes 2>/dev/null; kill -TERM $$others 2>/dev/null; wait $$others 2>/dev/null; echo "stopped: the three nodes, camsim, etcd"' EXIT; \
	trap 'exit 130' INT TERM; \
	setsid etcd --name demo --data-dir $(CLUSTER_DEMO)/etcd --listen-client-urls http://127.0.0.1:2479 --advertise-client-urls http://127.0.0.1:2479 \
	  --listen-peer-urls http://127.0.0.1:2480 --initial-advertise-peer-urls http://127.0.0.1:2480 --initial-cluster demo=http://127.0.0.1:2480 \
	  > $(CLUSTER_DEMO)/etcd.log 2>&1 & others="$$others $$!"; \
	setsid $(BIN)/camsim -rtsp 127.0.0.1:8554 -http 127.0.0.1:8555 -user admin -pass demo-secret \
	  $(foreach i,1 2 3 4 5 6 7 8 9,-camera cam$(i),max=2) > $(CLUSTER_DEMO)/camsim.log 2>&1 & others="$$others $$!"; \
	for i in $$(seq 100); do curl -fsS http://127.0.0.1:2479/health >/dev/null 2>&1 && curl -fsS http://127.0.0.1:8555/stats >/dev/null 2>&1 && break; sleep 0.1; done; \
	curl -fsS http://127.0.0.1:2479/health >/dev/null || { echo "etcd did not start:"; cat $(CLUSTER_DEMO)/etcd.log; exit 1; }; \
	token=$$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'); \
	for i in 1 2 3; do \
	  CAMVISOR_TOKEN=$$token CAMVISOR_NODE=n$$i CAMVISOR_LISTEN=127.0.0.1:808$$i CAMVISOR_DB=$(CLUSTER_DEMO)/n$$i.db \
	    setsid $(BIN)/camvisor run --config cmd/camvisor/camvisor.cluster.yaml > $(CLUSTER_DEMO)/n$$i.log 2>&1 & nodes="$$nodes $$!"; \
	done; \
	echo; echo "etcd:              http://127.0.0.1:2479 (data in $(CLUSTER_DEMO)/etcd)"; \
	echo "camsim cameras:    rtsp://admin:***@127.0.0.1:8554/cam1 ... cam9, stats http://127.0.0.1:8555/stats"; \
	for i in 1 2 3; do echo "node n$$i:           http://127.0.0.1:808$$i/   (log $(CLUSTER_DEMO)/n$$i.log, record $(CLUSTER_DEMO)/n$$i.db)"; done; \
	echo "operator token:    $$token   (the same on every node)"; \
	echo "who owns what:     curl -H 'Authorization: Bearer $$token' http://127.0.0.1:8081/api/cluster"; \
	echo "stop with Ctrl-C"; echo; \
	wait $$nodes

test: deps
test: deps-test
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -count=1 -timeout 12m ./...
	$(GO) test -count=1 -race -timeout 12m ./actors/...

# Release tarballs: $(DIST)/camvisor-VERSION-linux-ARCH.tar.gz, each one
# directory with the binary and DIST_FILES, and $(DIST)/SHA256SUMS. The
# binaries are cgo builds for Debian 12's glibc (2.36), stripped; the
# tarballs are reproducible for one SOURCE_DATE_EPOCH.
dist: deps-dist
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for arch in $(DIST_ARCHES); do \
	  name=camvisor-$(VERSION)-linux-$$arch; dir=$(DIST)/$$name; mkdir -p $$dir; \
	  cc=$$( [ $$arch = amd64 ] && echo $(CC_amd64) || echo $(CC_arm64) ); \
	  echo "building $$name (CC=$$cc)"; \
	  CGO_ENABLED=1 GOOS=linux GOARCH=$$arch CC=$$cc $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $$dir/camvisor ./cmd/camvisor; \
	  for f in $(DIST_FILES); do install -m 0644 cmd/camvisor/$$f $$dir/$$f; done; \
	  tar -C $(DIST) --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$$(date -d $(DATE) +%s) \
	    -czf $(DIST)/$$name.tar.gz $$name; \
	  rm -rf $$dir; \
	done
	@cd $(DIST) && sha256sum camvisor-$(VERSION)-linux-*.tar.gz > SHA256SUMS && cat SHA256SUMS

# The container image, from this machine's release directory (podman or
# docker: CONTAINER=docker). BASE may name a local Debian 12 image where
# no registry is reachable, IMAGE_FLAGS add build options (INSTALL.md).
CONTAINER ?= podman
IMAGE_FLAGS ?=
image:
	$(MAKE) dist DIST_ARCHES=$(HOST_ARCH) DIST=$(DIST)/image
	@set -e; cd $(DIST)/image && tar xzf camvisor-$(VERSION)-linux-$(HOST_ARCH).tar.gz && \
	  cd camvisor-$(VERSION)-linux-$(HOST_ARCH) && \
	  $(CONTAINER) build $(if $(filter podman,$(CONTAINER)),--format docker) $(if $(BASE),--build-arg BASE=$(BASE)) $(IMAGE_FLAGS) -t camvisor:$(VERSION) .

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./actors/
	$(GO) test -run '^$$' -bench ThousandCameras -benchtime 1x ./cmd/camsim/
	$(GO) test -run '^$$' -bench MotionDetect ./actors/detect/
	$(GO) test -run '^$$' -bench Scan ./actors/osproc/

# camvisor's own CPU per capture and where it goes, by stage: the binary
# patrols camsim's cameras with the detector off, then motion on, and a Go
# CPU profile is taken from its /debug/pprof (actors/BENCHMARKS.md; the
# CAMVISOR_BENCH_* variables set the load and keep the profiles).
bench-cost: build
	$(GO) test -run '^$$' -bench OwnCostPerCapture -benchtime 1x -timeout 30m ./actors/

# Go fuzz targets, package:target; their seed corpora (testdata/fuzz/)
# run in make test with the rest. make fuzz runs each for FUZZTIME, one at
# a time; a crasher is written to its package's testdata/fuzz/ and fails.
FUZZ_TARGETS := ./actors/rtsprelay:FuzzReadMessage ./actors/camauth:FuzzChallenge \
  ./actors/detect:FuzzDecodeLumaDC ./actors/config:FuzzParse \
  ./actors/camsim:FuzzRequestReader ./actors/camsim:FuzzClientReader
FUZZTIME ?= 30s
FUZZFLAGS ?=

fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg || exit 1; \
	done

clean:
	rm -rf $(BIN) $(DEMO) $(DIST)
