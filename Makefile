# sockgate — see README.md. Needs only Go, Node/npm and Debian packages.
GO       ?= go
NODE_DIR := internal/testenv/node
WEB_DIR  := examples/web
FUZZTIME ?= 10s
# Each fuzz target runs briefly in `make test` (seed corpus + FUZZTIME of new inputs).
FUZZ     := ./socketio/engine:FuzzDecodePacket ./socketio/engine:FuzzDecodePayload ./socketio/engine:FuzzReadLoop \
            ./socketio/parser:FuzzDecode ./socketio/parser:FuzzSplitArray ./socketio/parser:FuzzScanPlaceholders ./socketio:FuzzClientMessages

SUB ?= alice
NAME ?= $(SUB)
# `make run` listens on loopback only (a development server with a development secret); set SOCKGATE_ADDR to open it.
RUN_ADDR ?= 127.0.0.1:3000
# The PostgreSQL server `make bench` creates its durable-messages databases on.
BENCH_PG ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: run token login build test check unit cluster fault fuzz services node-modules web e2e screenshots bench clean

## run: the server on 127.0.0.1:3000 with the embedded defaults (SQLite under ./data, in-memory adapter and
## limiter), serving the web client at / once `make web` has built it (unless SOCKGATE_STATIC says otherwise). Without JWT_SECRET it uses a random development secret kept in ./data/dev-jwt-secret, so the
## stored chats work at once (mint a token with `make token SUB=alice`); the binary itself has no default
## secret. It builds bin/sockgate, then execs it: Ctrl-C or stopping make stops the server itself.
run: data/dev-jwt-secret
	@echo "make run: building bin/sockgate (the first build compiles every dependency: a few minutes)..." >&2
	@CGO_ENABLED=0 $(GO) build -o bin/sockgate ./cmd/sockgate
	@echo "make run: starting bin/sockgate on $${SOCKGATE_ADDR:-$(RUN_ADDR)} (Ctrl-C stops it)" >&2
	@JWT_SECRET="$${JWT_SECRET:-$$(cat data/dev-jwt-secret)}" SOCKGATE_ADDR="$${SOCKGATE_ADDR:-$(RUN_ADDR)}" \
	  SOCKGATE_STATIC="$${SOCKGATE_STATIC:-$$(test -f $(WEB_DIR)/dist/index.html && echo $(WEB_DIR)/dist)}" exec ./bin/sockgate

## token: a development JWT for SUB (named NAME, by default SUB) signed with the same secret as `make run`;
## SOCKGATE_JWT_USER_CLAIM / SOCKGATE_JWT_NAME_CLAIM put them in the claims the server reads.
token: data/dev-jwt-secret
	@test -x bin/sockgate || echo "make token: building bin/sockgate (the first build compiles every dependency: a few minutes)..." >&2
	@CGO_ENABLED=0 $(GO) build -o bin/sockgate ./cmd/sockgate
	@JWT_SECRET="$${JWT_SECRET:-$$(cat data/dev-jwt-secret)}" exec ./bin/sockgate token -sub "$(SUB)" -name "$(NAME)"

## login: a sign-in link to the web client (`make web`, then `make run`) for SUB, named NAME.
login: data/dev-jwt-secret
	@tok=$$($(MAKE) -s token SUB="$(SUB)" NAME="$(NAME)") && echo "http://$${SOCKGATE_ADDR:-$(RUN_ADDR)}/#token=$$tok"

data/dev-jwt-secret:
	@mkdir -p data && umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' > $@

## build: the binary in ./bin/sockgate.
build:
	CGO_ENABLED=0 $(GO) build -o bin/sockgate ./cmd/sockgate

## test: the whole suite: format and vet checks, services, npm client, browser tests, go test -race, the fault suite,
## short fuzz runs.
test: check services node-modules e2e unit fault fuzz

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

services:
	@bash .ci/services.sh

node-modules:
	@test $(NODE_DIR)/node_modules/.package-lock.json -nt $(NODE_DIR)/package-lock.json || (cd $(NODE_DIR) && npm ci --no-audit --no-fund)

# unit: every package but the browser tests, which `e2e` runs after building the client, and the fault suite, which
# `fault` runs alone so that no other package's tests share the two cores with its deadline assertions.
unit:
	$(GO) test -race -count=1 -timeout 12m $$($(GO) list ./... | grep -v -e /internal/e2etest -e '/internal/faulttest$$')
	cd bench && $(GO) test -race -count=1 -timeout 5m ./...

## web: examples/web's packages from its lockfile (npm ci), then its build in examples/web/dist
## (type check and vite build), which `sockgate -static examples/web/dist` serves.
web:
	@test $(WEB_DIR)/node_modules/.package-lock.json -nt $(WEB_DIR)/package-lock.json || (cd $(WEB_DIR) && npm ci --no-audit --no-fund)
	cd $(WEB_DIR) && npm run build

## e2e: the browser tests (internal/e2etest): Debian's Chromium driven by playwright-core against sockgate
## serving the build: examples/web with two users, and the tutorial's flow. Screenshots: examples/web/e2e/artifacts.
e2e: services web
	$(GO) test -race -count=1 -timeout 5m -v ./internal/e2etest/

## screenshots: the e2e run, keeping its screenshots in docs/screenshots (the README shows them).
screenshots: services web
	SOCKGATE_E2E_ARTIFACTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -timeout 5m ./internal/e2etest/

## cluster: the docker-compose.yml topology without Docker (nginx running deploy/nginx.conf, two sockgate
## processes, a private Redis, a PostgreSQL database) driven by socket.io-client; `unit` runs it too.
cluster: services node-modules
	$(GO) test -race -count=1 -timeout 5m -v -run 'TestCluster' ./internal/clustertest/

## fault: the fault suite of issue 9 (internal/faulttest/doc.go): sockgate under load while its private
## PostgreSQL or Redis is SIGKILLed, SIGSTOPped, locked or slowed, its SQLite disk fills, or it gets SIGTERM or
## SIGKILL. About 2 minutes with -event-timeout 2s, 5 with the default 10 s (the faults scale with it).
fault: services
	$(GO) test -race -count=1 -timeout 10m -v ./internal/faulttest/

fuzz:
	@set -e; for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	  bash .ci/fuzz.sh $(GO) $$pkg $$fn $(FUZZTIME); done

## bench: sockgate's core against Node's socket.io 4.8 (see bench/README.md); writes bench/RESULTS.md. Then the
## reconnect storm on the real binary, closed loop then open loop at 1000 msg/s (bench/cmd/storm: fails when the storm
## raises other senders' p99 above 2x idle),
## and durable /chat messages on SQLite and PostgreSQL (bench/cmd/durable, 3 s windows; their figures go into RESULTS.md by hand, after
## the cluster section, which benchrun keeps). Every step runs; make bench
## fails at the end if one did.
bench:
	cd bench && $(GO) run ./cmd/benchrun
	cd bench && st=0; $(GO) run ./cmd/storm || st=1; $(GO) run ./cmd/storm -rate 1000 || st=1; \
	  $(GO) run ./cmd/durable -warmup 1s -duration 3s || st=1; \
	  $(GO) run ./cmd/durable -warmup 1s -duration 3s -db $(BENCH_PG) || st=1; exit $$st

clean:
	rm -rf bin data
