# camvisor: two commands on a fresh machine.
#   make run    install what is missing, build, start the demo (camsim + camvisor)
#   make test   install what is missing, run the whole suite
# Also: make build, make bench, make deps, make clean, make run-cluster.

SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DEMO := demo

# Debian packages the suite and the demo need: program -> package.
DEB_PROGRAMS := ffmpeg:ffmpeg sqlite3:sqlite3 chromium:chromium gcc:gcc etcd:etcd-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build run run-cluster test bench deps clean

all: build

deps:
	@missing=""; for pair in $(DEB_PROGRAMS); do \
	  prog=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$prog >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go is not installed: see README.md"; exit 1; }
	@$(GO) mod download

build: deps
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/camvisor ./cmd/camvisor
	$(GO) build -o $(BIN)/camsim ./cmd/camsim

# The demo: camsim serves six cameras (front; garage, which refuses a third
# connection; attic, hung; yard, with motion; porch, which drops the stream;
# lobby, H.264, patrolled in stream mode); camvisor patrols them.
# Ctrl-C stops both; camvisor kills every ffmpeg it started before exiting.
run: build
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
run-cluster: build
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
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -count=1 -timeout 12m ./...
	$(GO) test -count=1 -race -timeout 12m ./actors/...

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./actors/
	$(GO) test -run '^$$' -bench ThousandCameras -benchtime 1x ./cmd/camsim/
	$(GO) test -run '^$$' -bench MotionDetect ./actors/detect/
	$(GO) test -run '^$$' -bench Scan ./actors/osproc/

clean:
	rm -rf $(BIN) $(DEMO)
