# HRID build.  GNU make; libraries found with pkg-config; objects out of
# tree under build/ (build/san/ for the sanitizer build).
#
#   make            libhrid.a + libhrid.so, hrid, hridd
#   make SAN=1      the same with AddressSanitizer + UBSan, under build/san
#   make test       install what tests need, build with sanitizers, run all
#   make run        install, build, start hridd on a demo database
#   make web        the portal's charting library, from npm into web/vendor/
#   make bench      build and run the benchmarks
#   make fuzz       build the libFuzzer drivers (clang) and run each briefly

CC      ?= cc
PKGS    := libsodium jansson libmicrohttpd sqlite3 libpq libcurl libqrencode libpng libcrypto libmosquitto
VERSION := 0.1.0

ifeq ($(SAN),1)
B       := build/san
SANFL   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     := -O1
else
B       := build
SANFL   :=
OPT     := -O2
endif

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wvla \
           -fPIC -Iinclude -Isrc -DHRID_VERSION='"$(VERSION)"' $(SANFL)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SANFL)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

LIB_SRC  := $(wildcard lib/*.c)
CORE_SRC := $(wildcard src/core/*.c src/store/*.c src/ledger/*.c src/telemetry/*.c)
SRV_SRC  := $(wildcard src/server/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
BENCH_SRC:= $(wildcard bench/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBHRID  := $(B)/libhrid.a
LIBSO    := $(B)/libhrid.so
LIBCORE  := $(B)/libhridcore.a
HRID     := $(B)/hrid
HRIDD    := $(B)/hridd
UNITS    := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCHES  := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))
FUZZERS  := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

# Objects are kept even when only a test or benchmark needed them, so an
# up-to-date tree does not recompile them on every make test.
.SECONDARY:

.PHONY: all deps test-deps bench-deps test run bench benches units fuzz fuzz-build clean web
all: $(LIBHRID) $(LIBSO) $(HRID) $(HRIDD)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBHRID): $(call obj,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

$(LIBSO): $(call obj,$(LIB_SRC))
	$(CC) -shared -Wl,-soname,libhrid.so.0 $(LDFLAGS) -o $@ $^ -lsodium -lcrypto

$(LIBCORE): $(call obj,$(CORE_SRC))
	@rm -f $@
	ar rcs $@ $^

$(HRIDD): $(call obj,$(SRV_SRC)) $(LIBCORE) $(LIBHRID)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(HRID): $(call obj,$(CLI_SRC)) $(LIBCORE) $(LIBHRID)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# A unit test links everything but the two programs' mains, so a test of a
# server or CLI module links that module's object too.
SRV_LIB_OBJ := $(filter-out $(B)/obj/src/server/hridd.o,$(call obj,$(SRV_SRC)))
CLI_LIB_OBJ := $(filter-out $(B)/obj/src/cli/hrid.o,$(call obj,$(CLI_SRC)))

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(SRV_LIB_OBJ) $(LIBCORE) $(LIBHRID)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(B)/bench/%: $(B)/obj/bench/%.o $(LIBCORE) $(LIBHRID)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc \
	    -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

deps:
	@sh scripts/install-deps.sh build
test-deps:
	@sh scripts/install-deps.sh test
bench-deps:
	@sh scripts/install-deps.sh bench

# The test target re-enters make so that pkg-config runs after the
# packages are installed on a fresh machine.
test: test-deps
	@$(MAKE) --no-print-directory SAN=1 all units benches
	@$(MAKE) --no-print-directory web
	@$(MAKE) --no-print-directory fuzz-build
	@sh tests/run.sh build/san

units: $(UNITS)

# Built by make test too, so that a benchmark never stops compiling unseen.
benches: $(BENCHES)

# The address make run serves; hridd's own default.
LISTEN  ?= 127.0.0.1:8080

run: deps
	@$(MAKE) --no-print-directory all web
	@echo "the portal: http://$(LISTEN)/portal/ (sign in with the demo regulator key below)"
	./$(HRIDD) --db hrid-demo.db --demo --listen $(LISTEN) $(RUNFLAGS)

# The portal (docs/portal.md): hridd serves web/ at /portal/.  The only
# thing built is the charting library: Chart.js, pinned in
# web/package-lock.json, installed by npm ci and copied as its one UMD
# file into web/vendor/ (no bundler, nothing fetched at run time).
WEB_LIB := web/node_modules/chart.js/dist/chart.umd.js

web: web/vendor/chart.umd.js

$(WEB_LIB): web/package.json web/package-lock.json
	@sh scripts/install-deps.sh web
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

web/vendor/chart.umd.js: $(WEB_LIB)
	@mkdir -p web/vendor
	cp web/node_modules/chart.js/LICENSE.md web/vendor/chart.js.LICENSE.txt
	cp $(WEB_LIB) $@

bench: bench-deps
	@$(MAKE) --no-print-directory all $(BENCHES)
	@sh bench/run.sh $(B)
	@echo "== hridd telemetry queries (bench/bench_telemetry_query.py)"
	@python3 bench/bench_telemetry_query.py $(B)

fuzz-build: $(FUZZERS)

fuzz: test-deps fuzz-build
	@for f in $(FUZZERS); do \
	    n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	    $$f -max_total_time=$${FUZZ_SECONDS:-60} build/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
