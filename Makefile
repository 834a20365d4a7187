# qac -- build, test, bench, run.
#
#   make            build bin/qac (-O2, warnings are errors, jemalloc)
#   make test       install missing packages, build, run every test (and print a summary line)
#   make test-san   the same tests on an ASan+UBSan build (libc malloc), in build/san;
#                   each test may take TEST_TIMEOUT s (default 1200: sanitizers run 3-10x slower)
#   make bench      benchmarks (see README), figures to stdout
#   make run        demo: build the demo index and start what it needs
#   make deps       install the Debian packages qac needs (no-op when all are present)
#   make install    bin/qac, man page, web page + nginx site, example config under
#                   PREFIX (/usr/local; DESTDIR honoured); make uninstall removes them
#   make deb        build/deb/qac_VERSION_ARCH.deb (dpkg-buildpackage -us -uc -b, debian/)
#
# Layout: each module directory (common text trie ranking data, and engine's
# folders engine/proto engine/store engine/rank engine) becomes one static
# archive (engine/proto -> libengine_proto.a); dependencies point one way
# (text -> common; trie -> common; ranking -> trie, common; data -> ranking,
# trie, text, common; engine/proto -> common; engine/store -> trie, common;
# engine/rank -> ranking, trie, common; engine -> its three folders, ranking,
# trie, text, common). engine/main.c, the composition root, is the only file
# that sees every module: it is not in libengine.a, and only bin/qac links
# data (DEPS_qac), so an engine call into data/ fails to link.
# tests/it_layering.sh checks the #include directions. Tests are
# tests/test_<module>_<name>.c and link only their module and what it depends
# on (test_engine_*: all of engine; test_qac_*: what bin/qac links).

.DEFAULT_GOAL := all
VERSION := 0.1.0
CC ?= cc
SAN ?= 0

ifeq ($(SAN),1)
BUILD := build/san
QAC := $(BUILD)/qac
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -DQAC_NO_JEMALLOC
MALLOC :=
else
BUILD := build/rel
QAC := bin/qac
# -O2, measured against the alternatives (thirteenth session, 10M keys,
# answers equal in every run): -O3 gave the word index's queries 0.93 on
# the trie before OWN BLOCKS (12 pairs, load 2-7) but 1.045 after it (4
# pairs, load ~1), the exact path 1.015 (8 pairs), typos 0.97-1.04: no
# gain, for 1.28x the build's CPU; -O2 -flto the exact path 0.94, nothing
# else, for 4x the build (each test binary an LTO link); -O3 -flto no
# better than -O3. docs/INFIX.md, "Compiler flags". Profile-guided
# (-fprofile-use, trained on the 1M synthetic corpus; fifteenth session):
# the word index ~0.97-0.98 of the median, typos 1.01-1.03, within this
# machine's noise: no training run in the build.
OPT := -O2 -g
MALLOC := -ljemalloc
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wvla -Wpointer-arith -Wcast-qual -Wno-unused-parameter
CFLAGS := -std=c11 -D_GNU_SOURCE -DQAC_VERSION='"$(VERSION)"' $(OPT) $(WARN) -fno-common -I. -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := $(OPT) $(EXTRA_LDFLAGS)
LIBS := -luv -lhiredis -lhttp_parser -lutf8proc -lxxhash -lnettle -lsystemd $(MALLOC) -lm -lpthread

MODULES := common text trie ranking data engine/proto engine/store engine/rank engine
# Which archives a module's code needs, in link order.
DEPS_common  := common
DEPS_text    := text common
DEPS_trie    := trie common
DEPS_ranking := ranking trie common
DEPS_data    := data ranking trie text common
DEPS_engine/proto := engine/proto common
DEPS_engine/store := engine/store trie common
DEPS_engine/rank  := engine/rank ranking trie common
DEPS_engine  := engine engine/rank engine/store engine/proto ranking trie text common
# bin/qac: engine/main.c (the composition root) links everything, data included.
DEPS_qac     := engine engine/rank engine/store engine/proto data ranking trie text common

# a module's archive: engine/proto -> $(BUILD)/libengine_proto.a
lib_of = lib$(subst /,_,$(1)).a
define module_rules
SRC_$(1) := $$(filter-out engine/main.c,$$(wildcard $(1)/*.c))
OBJ_$(1) := $$(SRC_$(1):%.c=$(BUILD)/%.o)
$(BUILD)/$(call lib_of,$(1)): $$(OBJ_$(1))
	@mkdir -p $$(@D)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

archives = $(foreach d,$(DEPS_$(1)),$(BUILD)/$(call lib_of,$(d)))

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-san check-deps deps bench run cluster clean fuzz install uninstall deb
all: $(QAC) $(TEST_BIN) $(BENCH_BIN)

# FLAGS STAMP: $(BUILD)/.flags holds the compiler and flags the tree was
# built with, rewritten only when they change (make OPT=-O3, EXTRA_CFLAGS=...,
# CC=clang), and every object depends on it: a tree is never a mix of two
# sets of flags, and a changed flag rebuilds without `make clean`.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS) $(LIBS)
ifneq ($(file < $(FLAGS_STAMP)),$(FLAGS_NOW))
$(shell mkdir -p $(BUILD))
$(file > $(FLAGS_STAMP),$(FLAGS_NOW))
endif

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(QAC): $(BUILD)/engine/main.o $(call archives,qac)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# tests/test_<module>_<name>.c links <module> and its dependencies.
test_module = $(word 2,$(subst _, ,$(notdir $(1))))
.SECONDEXPANSION:
.SECONDARY:
$(BUILD)/tests/%: $(BUILD)/tests/%.o $$(call archives,$$(call test_module,$$*))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(call archives,engine)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# --- install ------------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] [INSTALL_BIN=bin/qac]
#   BINDIR/qac, MANDIR/man1/qac.1, DOCDIR (README and docs/), SHAREDIR/qac/web
#   (the page), SHAREDIR/qac/nginx/qac-site.conf (deploy/nginx-site.conf with the
#   page's path filled in), SYSCONFDIR/qac/qac.conf (every setting, commented;
#   never overwrites an existing one), UNITDIR/qac.service and qac@.service
#   (deploy/systemd/ with BINDIR and SYSCONFDIR filled in). SYSCONFDIR is PREFIX/etc, /etc for
#   PREFIX=/usr. make uninstall removes the files (the config only when it is
#   unchanged) and the empty directories that are qac's own.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SHAREDIR ?= $(PREFIX)/share
MANDIR ?= $(SHAREDIR)/man
DOCDIR ?= $(SHAREDIR)/doc/qac
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(PREFIX)/lib/systemd/system
UNITS := qac.service qac@.service
INSTALL_BIN ?= $(QAC)
WEB_FILES := $(wildcard web/*.html web/*.js web/*.css)
DOC_FILES := README.md $(wildcard docs/*.md)

install: $(INSTALL_BIN)
	install -D -m 755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/qac
	install -D -m 644 man/qac.1 $(DESTDIR)$(MANDIR)/man1/qac.1
	install -d $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SHAREDIR)/qac/web $(DESTDIR)$(SHAREDIR)/qac/nginx
	install -m 644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	install -m 644 $(WEB_FILES) $(DESTDIR)$(SHAREDIR)/qac/web/
	sed 's|@WEB_ROOT@|$(SHAREDIR)/qac/web|g' deploy/nginx-site.conf >$(DESTDIR)$(SHAREDIR)/qac/nginx/qac-site.conf
	chmod 644 $(DESTDIR)$(SHAREDIR)/qac/nginx/qac-site.conf
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do sed 's|@BINDIR@|$(BINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' deploy/systemd/$$u \
	  >$(DESTDIR)$(UNITDIR)/$$u && chmod 644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/qac/qac.conf ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/qac/qac.conf (the new example is etc/qac/qac.conf)"; \
	else install -D -m 644 etc/qac/qac.conf $(DESTDIR)$(SYSCONFDIR)/qac/qac.conf; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/qac $(DESTDIR)$(MANDIR)/man1/qac.1
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)))
	rm -f $(addprefix $(DESTDIR)$(SHAREDIR)/qac/web/,$(notdir $(WEB_FILES)))
	rm -f $(DESTDIR)$(SHAREDIR)/qac/nginx/qac-site.conf $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	@if cmp -s etc/qac/qac.conf $(DESTDIR)$(SYSCONFDIR)/qac/qac.conf; then rm -f $(DESTDIR)$(SYSCONFDIR)/qac/qac.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/qac/qac.conf ]; then echo "kept $(DESTDIR)$(SYSCONFDIR)/qac/qac.conf (changed)"; fi
	rmdir $(DESTDIR)$(SHAREDIR)/qac/web $(DESTDIR)$(SHAREDIR)/qac/nginx $(DESTDIR)$(SHAREDIR)/qac \
	  $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/qac 2>/dev/null || true

# make deb: the Debian package with debhelper (debian/rules builds in build/deb,
# installs with PREFIX=/usr). dpkg-buildpackage writes to the parent directory;
# the results are moved to build/deb/.
deb:
	dpkg-buildpackage -us -uc -b
	@mkdir -p build/deb
	mv ../qac_$(VERSION)_*.deb ../qac_$(VERSION)_*.buildinfo ../qac_$(VERSION)_*.changes build/deb/
	-mv ../qac-dbgsym_$(VERSION)_*.deb build/deb/ 2>/dev/null
	@ls build/deb/*.deb

# --- packages ---------------------------------------------------------------
PKGS := gcc make pkg-config libuv1-dev libhiredis-dev libjemalloc-dev libutf8proc-dev \
        libhttp-parser-dev libxxhash-dev nettle-dev libsystemd-dev debhelper libcmocka-dev redis-server redis-tools curl python3 python3-redis procps time netcat-openbsd \
        nginx-light chromium nodejs clang libclang-rt-14-dev lintian redis-redisearch
deps:
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done; \
	  command -v npm >/dev/null || echo npm); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to install: $$missing (run 'sudo make deps')" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Cheap check run by test/run: only calls apt when something is missing.
check-deps:
	@$(MAKE) --no-print-directory deps

test: check-deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(BUILD) $(QAC)

test-san: check-deps
	@$(MAKE) --no-print-directory SAN=1 all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  TEST_TIMEOUT=$${TEST_TIMEOUT:-1200} tests/run.sh build/san build/san/qac

bench: check-deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh $(BUILD) $(QAC)

run: check-deps
	@$(MAKE) --no-print-directory all
	@deploy/run.sh $(QAC)

# several replicas on loopback: Redis + replica + 3 Sentinels, qac replicas, nginx (deploy/cluster.sh);
# REPLICAS=N, SHARDS=S (S shards x N replicas, a merger, nginx routing by the shard map)
cluster: check-deps
	@$(MAKE) --no-print-directory all
	@deploy/cluster.sh run --dir run/cluster --qac $(CURDIR)/$(QAC) $(if $(REPLICAS),--replicas $(REPLICAS)) \
	    $(if $(SHARDS),--shards $(SHARDS))

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)

# --- fuzz ---------------------------------------------------------------------
# make fuzz [FUZZ_SECONDS=60]: builds every tests/fuzz/fuzz_<name>.c with clang
# (libFuzzer + ASan + UBSan) into build/fuzz/ and runs each for FUZZ_SECONDS on
# its seed corpus tests/fuzz/corpus/<name>/ (read only; new inputs go to
# build/fuzz/corpus/<name>/, crashes to build/fuzz/artifacts/<name>/). Exits
# non-zero when any harness crashes. `make fuzz-build` only builds.
# Separate object tree (build/fuzz/obj), own flags: the normal build is untouched.
# A harness links the archives of the module named in FUZZ_MOD_<name>.
FUZZ_SECONDS ?= 10
FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
FUZZ_OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
            -DQAC_NO_JEMALLOC
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -DQAC_VERSION='"$(VERSION)"' $(FUZZ_OPT) $(WARN) -fno-common -I. \
               -MMD -MP
FUZZ_LIBS := -luv -lhiredis -lhttp_parser -lutf8proc -lxxhash -lnettle -lsystemd -lm -lpthread
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_MOD_proto := engine
FUZZ_MOD_http := engine
FUZZ_MOD_json := common
FUZZ_MOD_qlog := data
FUZZ_MOD_snapshot := trie
FUZZ_MOD_norm := text
FUZZ_MOD_tcodec := trie
FUZZ_MOD_journal := engine
FUZZ_MOD_embed := ranking
FUZZ_MOD_model := ranking
FUZZ_MOD_exec := engine
FUZZ_MOD_shardmap := text
FUZZ_MOD_words_snap := trie
FUZZ_MOD_outbox := engine
FUZZ_MOD_fdelta := ranking

FUZZ_STAMP := $(FUZZ_DIR)/.flags
FUZZ_NOW := $(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LIBS)
ifneq ($(filter fuzz fuzz-build $(FUZZ_DIR)/%,$(MAKECMDGOALS)),)
ifneq ($(file < $(FUZZ_STAMP)),$(FUZZ_NOW))
$(shell mkdir -p $(FUZZ_DIR))
$(file > $(FUZZ_STAMP),$(FUZZ_NOW))
endif
endif

$(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

define fuzz_module_rules
$(FUZZ_DIR)/$(call lib_of,$(1)): $$(SRC_$(1):%.c=$(FUZZ_DIR)/obj/%.o)
	@mkdir -p $$(@D)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call fuzz_module_rules,$(m))))

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o \
                    $$(foreach d,$$(DEPS_$$(FUZZ_MOD_$$*)),$(FUZZ_DIR)/$$(call lib_of,$$(d)))
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_OPT) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BIN)

fuzz: check-deps
	@$(MAKE) --no-print-directory fuzz-build
	@fail=; for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$n $(FUZZ_DIR)/artifacts/$$n; \
	  echo "== fuzz_$$n ($(FUZZ_SECONDS) s)"; \
	  tmp=$$(mktemp -d /dev/shm/qac-fuzz-run.XXXXXX 2>/dev/null || mktemp -d /tmp/qac-fuzz-run.XXXXXX); \
	  QAC_FUZZ_TMP=$$tmp $(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$$n/ $(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n \
	    >$(FUZZ_DIR)/fuzz_$$n.log 2>&1 || fail="$$fail $$n"; \
	  rm -rf "$$tmp"; \
	  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss)' $(FUZZ_DIR)/fuzz_$$n.log; \
	done; \
	if [ -n "$$fail" ]; then \
	  for n in $$fail; do echo "fuzz_$$n CRASHED: see $(FUZZ_DIR)/fuzz_$$n.log and $(FUZZ_DIR)/artifacts/$$n/"; \
	    grep -E 'ERROR|SUMMARY|runtime error' $(FUZZ_DIR)/fuzz_$$n.log | head -5; done; exit 1; fi
