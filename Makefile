# sql2es - hand-written, non-recursive Makefile. Objects under build/.
#   make                 build build/sql2es
#   make test            install missing packages, build, run every test
#   make demo            sync the quickstart SQLite database into a local node
#   make bench           benchmarks (figures go to bench/RESULTS.md)
#   make fuzz            longer libFuzzer runs (FUZZ_SECONDS each, default 300)
#   make lint            banned functions, warnings
#   make compiler        the compiler-only archive and what links against it
#                        (validate-only test binary; no database or HTTP library)
#   make coverage        line/branch coverage per folder (gcov + lcov; build/cov)
#   make mutate          mutation score per folder (universalmutator; tests/MUTATION.md)
#   make install PREFIX=/usr/local
#   SANITIZE=address,undefined   build with sanitizers (separate build dir)
#   WERROR=1             warnings are errors (CI sets it)

PREFIX ?= /usr/local
CC ?= cc
PKGS := yaml-0.1 libcurl libcjson libpq libpcre2-8 libmariadb sqlite3 libmicrohttpd
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wwrite-strings -Wvla -Wimplicit-fallthrough
ifneq ($(CI),)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

BUILD ?= build
OPT := -O2 -g
ifneq ($(SANITIZE),)
override BUILD := $(BUILD)/san
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif
# COVERAGE=1: gcov instrumentation (make coverage builds it in build/cov)
ifeq ($(COVERAGE),1)
OPT := -O0 -g --coverage
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -DSQL2ES_VERSION='"$(VERSION)"' -I. $(PKG_CFLAGS)
CFLAGS += -std=c11 $(OPT) $(WARN) -MMD -MP
LDFLAGS += $(if $(SANITIZE),-fsanitize=$(SANITIZE)) $(if $(filter 1,$(COVERAGE)),--coverage)
LDLIBS += $(PKG_LIBS) -lpthread -lm -lz

# Folders are layers, from the top down (README, "Layout"):
#   cli -> service -> sync -> engine, sinks -> dsl -> plan -> sources -> base
LAYERS := cli service sync engine sinks dsl plan sources base
LIB_SRC := $(wildcard $(addsuffix /*.c,$(filter-out cli,$(LAYERS)))) $(filter-out cli/main.c,$(wildcard cli/*.c))
GEN_SRC := $(BUILD)/gen/schema_data.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:.c=.o)
MAIN_OBJ := $(BUILD)/cli/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC := $(wildcard tests/integration/itest_*.c)
UNIT_BIN += $(ITEST_SRC:tests/integration/%.c=$(BUILD)/tests/%)

.PHONY: all test unit compiler deps check-deps lint fuzz bench demo install clean \
        opensearch-up opensearch-down schema-json coverage mutate
all: $(BUILD)/sql2es

# The library is an archive: a test links only the objects it uses.
LIB_A := $(BUILD)/libsql2es.a
$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The compiler alone (YAML -> plan, and the plan printer): base, the driver
# interface's helpers (no driver), plan, dsl and the embedded language. It
# links with libyaml and PCRE2 only: no libpq, libmariadb, libcurl, cJSON.
COMPILER_PKGS := yaml-0.1 libpcre2-8
COMPILER_SRC := $(wildcard base/*.c plan/*.c dsl/*.c) sources/dialect.c sources/util.c
COMPILER_OBJ := $(COMPILER_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:.c=.o)
COMPILER_A := $(BUILD)/libsql2es_compiler.a
COMPILER_LIBS := $(shell pkg-config --libs $(COMPILER_PKGS) 2>/dev/null) -lm
$(COMPILER_A): $(COMPILER_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/compiler/%: tests/compiler/%.c $(COMPILER_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(COMPILER_A) $(COMPILER_LIBS)

compiler: $(COMPILER_A) $(BUILD)/tests/compiler/validate_only

$(BUILD)/sql2es: $(MAIN_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) -Wl,--start-group $(LIB_A) -Wl,--end-group $(LDLIBS)

$(BUILD)/%.o: %.c | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The language description (schemas/language.yaml) is embedded in the binary.
$(BUILD)/gen/schema_data.c: schemas/language.yaml tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh sql2es_language_yaml $< > $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CPPFLAGS) $(filter-out -Wmissing-prototypes,$(CFLAGS)) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(LIB_A) -Wl,--end-group $(LDLIBS)

$(BUILD)/tests/%: tests/integration/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(LIB_A) -Wl,--end-group $(LDLIBS)

unit: $(UNIT_BIN)

# Install the Debian packages the build, tests and demo need, when missing.
deps:
	sh tools/install-deps.sh

check-deps:
	@pkg-config --exists $(PKGS) 2>/dev/null || sh tools/install-deps.sh

test: deps
	$(MAKE) -j2 all unit
	$(MAKE) -j2 SANITIZE=address,undefined all unit
	bash tests/run.sh

# Coverage: an instrumented build (build/cov), the suites run with it in place
# of the plain build (SUITES="unit golden" for a part; default: all), then
# lcov and a per-folder table (build/cov/coverage.txt). Fails when a test did.
# The instrumented build also stands in for the sanitizer build, so that what
# the suites run only under the sanitizers (the fault walk, the sanitizer
# variants) is counted too; `make test` keeps the real sanitizer runs.
COV_BUILD := build/cov
coverage: deps
	$(MAKE) -j2 BUILD=$(COV_BUILD) COVERAGE=1 all unit
	find $(COV_BUILD) -name '*.gcda' -delete
	rc=0; SQL2ES_BUILD=$(COV_BUILD) SQL2ES_SAN_BUILD=$(COV_BUILD) bash tests/run.sh $(SUITES) || rc=$$?; \
	lcov -q --capture --directory $(COV_BUILD) --base-directory . --no-external \
	  --rc lcov_branch_coverage=1 -o $(COV_BUILD)/coverage.info 2>$(COV_BUILD)/lcov.log && \
	python3 tests/harness/coverage_report.py $(COV_BUILD)/coverage.info --files \
	  | tee $(COV_BUILD)/coverage.txt; exit $$rc

# Mutation score: universalmutator (PyPI) mutants of the product code, a fixed
# sample per folder (tests/harness/mutate.py; MUTATE_ARGS="--per-folder 12
# --seed 13 --budget 3600"), each run against the suites of its folder.
mutate: deps
	command -v mutate >/dev/null || python3 -m pip install -q universalmutator
	python3 tests/harness/mutate.py $(MUTATE_ARGS)

schema-json: $(BUILD)/sql2es
	$(BUILD)/sql2es schema > schemas/config.schema.json

lint:
	@! grep -nE '\b(sprintf|strcpy|strcat|gets|atoi)\s*\(' $(addsuffix /*.c,$(LAYERS)) || \
	  { echo "lint: banned function (use snprintf, memcpy, buf_*, strtol)"; exit 1; }
	@echo "lint: ok"

fuzz:
	for t in fuzz_compile fuzz_yaml fuzz_template fuzz_es_reply; do \
	  FUZZ_TARGET=$$t bash tests/fuzz/run.sh long || exit 1; done

bench: all
	bash bench/run.sh

demo: deps
	$(MAKE) all
	bash examples/quickstart/demo.sh

opensearch-up:
	@bash tests/harness/opensearch.sh up

opensearch-down:
	@bash tests/harness/opensearch.sh down

install: $(BUILD)/sql2es
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/sql2es
	install -m 755 $(BUILD)/sql2es $(DESTDIR)$(PREFIX)/bin/sql2es
	install -m 644 schemas/config.schema.json $(DESTDIR)$(PREFIX)/share/sql2es/

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
