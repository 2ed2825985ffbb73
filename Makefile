# camvisor: two commands on a fresh machine.
#   make run    install what is missing, build, start the demo (camsim + camvisor)
#   make test   install what is missing, run the whole suite
# Also: make build, make bench, make fuzz, make deps, make clean.

SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DEMO := demo

# Debian packages the suite and the demo need: program -> package.
DEB_PROGRAMS := ffmpeg:ffmpeg sqlite3:sqlite3 chromium:chromium gcc:gcc
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build run test bench fuzz deps clean

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

# The demo: camsim serves five cameras (one hung, one limited to two
# connections, one that drops, one with motion); camvisor patrols them.
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
	rm -rf $(BIN) $(DEMO)
