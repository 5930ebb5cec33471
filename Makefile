# dsm - distributed shared memory.  `make` builds everything; `make check` runs
# every test; `make check SANITIZE=address|thread|undefined` runs them under a
# sanitizer; `make install PREFIX=...` installs.
CC       ?= cc
PREFIX   ?= /usr/local
SANITIZE ?=
OPT      ?= -O2

CFLAGS_ALL = -std=gnu11 -Wall -Wextra -Werror $(OPT) -g -pthread -D_GNU_SOURCE \
             -Iinclude -Isrc -Ilauncher -MMD -MP $(CFLAGS)
LDLIBS_ALL = -lsodium -llz4 -pthread $(LDLIBS)
ifneq ($(SANITIZE),)
CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=$(SANITIZE)
endif

# PMIx is optional: with its header, launch_env.c can use libpmix, which it
# loads at run time (dlopen), so nothing links against it.
PMIX_CFLAGS := $(shell pkg-config --exists pmix 2>/dev/null && echo -DDSM_HAVE_PMIX \
                 $$(pkg-config --cflags-only-I pmix))
build/src/launch_env.o: private CFLAGS_ALL += $(PMIX_CFLAGS)

LIB_SRCS      := $(wildcard src/*.c)
LIB_OBJS      := $(LIB_SRCS:src/%.c=build/src/%.o)
LAUNCH_COMMON := $(filter-out launcher/dsmexec.c launcher/dsmwrap.c,$(wildcard launcher/*.c))
LAUNCH_OBJS   := $(LAUNCH_COMMON:launcher/%.c=build/launcher/%.o)
EXAMPLES      := $(patsubst examples/%.c,bin/%,$(wildcard examples/*.c))
UNIT_TESTS    := $(patsubst tests/unit/%.c,build/tests/%,$(wildcard tests/unit/*.c))
TEST_PROGS    := $(patsubst tests/progs/%.c,build/tests/%,$(filter-out tests/progs/lib%,$(wildcard tests/progs/*.c)))
BENCHES       := $(patsubst bench/%.c,bin/%,$(wildcard bench/*.c))
TOOLS         := bin/dsmexec bin/dsmwrap

all: $(TOOLS) lib/libdsm.a lib/libdsm.so $(EXAMPLES) $(BENCHES)

# Rebuild everything when the flags change (a sanitizer build and a plain
# one write the same bin/ and lib/).
build/flags: FORCE | build/deps-ok
	@mkdir -p build
	@echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(PMIX_CFLAGS)' | cmp -s - $@ || \
		echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(PMIX_CFLAGS)' > $@

# A fresh machine may lack the libraries: scripts/deps.sh installs them (as
# root) or prints the command to run.
build/deps-ok: scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p build && touch $@

build/src/%.o: src/%.c build/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIC -c $< -o $@

build/%.o: %.c build/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

lib/libdsm.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

lib/libdsm.so: $(LIB_OBJS) src/libdsm.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,--version-script=src/libdsm.map -Wl,-soname,libdsm.so.0 $(LDFLAGS) \
		-o $@ $(LIB_OBJS) $(LDLIBS_ALL)

bin/dsmexec: build/launcher/dsmexec.o $(LAUNCH_OBJS) lib/libdsm.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

bin/dsmwrap: build/launcher/dsmwrap.o $(LAUNCH_OBJS) lib/libdsm.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

bin/%: build/examples/%.o lib/libdsm.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

bin/%: build/bench/%.o lib/libdsm.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# app_bench's kernels, one file each under bench/apps/, and libm.
APP_OBJS := $(patsubst %.c,build/%.o,$(wildcard bench/apps/*.c))
bin/app_bench: build/bench/app_bench.o $(APP_OBJS) lib/libdsm.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lm

build/tests/%: build/tests/unit/%.o $(LAUNCH_OBJS) lib/libdsm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

build/tests/%: build/tests/progs/%.o lib/libdsm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# A test program linked with a shared library that has DSM_SHARED variables.
build/tests/libglobals_lib.so: tests/progs/libglobals_lib.c build/flags
	$(CC) $(CFLAGS_ALL) -fPIC -shared $(LDFLAGS) -o $@ $<

build/tests/globals_prog: build/tests/progs/globals_prog.o build/tests/libglobals_lib.so lib/libdsm.a
	$(CC) $(LDFLAGS) -o $@ $< -Lbuild/tests -lglobals_lib -Wl,-rpath,'$$ORIGIN' lib/libdsm.a $(LDLIBS_ALL)

# The fuzz targets without libFuzzer, to replay fuzz/corpus in make check.
FUZZ_REPLAYS := $(patsubst fuzz/fuzz_%.c,build/tests/replay_%,$(wildcard fuzz/fuzz_*.c))
build/tests/replay_%: build/fuzz/fuzz_%.o build/fuzz/replay.o lib/libdsm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

tests: all $(UNIT_TESTS) $(TEST_PROGS) $(FUZZ_REPLAYS)

check: tests
	@sh tests/run.sh $(TESTS)

# The fault-injection run, longer: more seeds, larger jobs.
chaos: tests
	@DSM_CHAOS_LONG=1 sh tests/run.sh chaos

# Every attack of issue 19 (kills, stops, link errnos, faults, strangers,
# damaged checkpoints, bad settings, --retries), CHAOS_JOBS jobs each, as one
# table (docs/chaos.md keeps the latest).
CHAOS_JOBS ?= 5
chaos-soak: tests
	@sh scripts/chaos-soak.sh $(CHAOS_JOBS)

# make bench BENCH_ARGS=--json (or --quick); bench/plot draws the results.
bench: all
	@sh bench/run.sh $(BENCH_ARGS)

# Model-check the page protocol (verify/coherence.pml; needs spin).
verify:
	@sh verify/run.sh

# The consistency checker and the litmus tests on real ranks, over and over
# with fresh seeds: make stress SECONDS=300 SEED=1234 (SEED: the first one).
SECONDS ?= 300
stress: tests
	@sh verify/stress.sh $(SECONDS) $(SEED)

# The fuzz targets (fuzz/; clang with libFuzzer), FUZZ_TIME seconds each, or
# FUZZ_RUNS executions each: make fuzz FUZZ_TIME=600.
FUZZ_TIME ?= 60
fuzz:
	@sh fuzz/run.sh $(FUZZ_TIME) $(FUZZ_RUNS)

# ---- installing ----------------------------------------------------------
# dsm.pc, dsm-dynamic.pc and the installed dsmcc carry the same flags.  A
# prefix whose pkgconfig directory pkg-config searches by default is the
# system's: ldconfig makes ld.so find libdsm.so.0 there.  Any other prefix:
# the programs carry an rpath to it (dsm.pc's Libs, dsmcc), so they run with
# no LD_LIBRARY_PATH, alone or under dsmexec.  `pkg-config --static` puts
# libdsm.a ahead of the shared library (dsm-dynamic.pc, linked --as-needed),
# which is then not needed.
LIBDIR        = $(PREFIX)/lib
DSM_DEPLIBS   = -lsodium -llz4 -pthread
SYSTEM_PREFIX = $(filter $(LIBDIR)/pkgconfig,$(subst :, ,$(shell pkg-config --variable pc_path pkg-config 2>/dev/null)))
RPATH_FLAG    = $(if $(SYSTEM_PREFIX),,$(RPATH_LIBDIR))
RPATH_LIBDIR  = -Wl,-rpath,$(LIBDIR)
PC_RPATH      = $(if $(SYSTEM_PREFIX),,$(PC_RPATH_LIBDIR))
PC_RPATH_LIBDIR = -Wl,-rpath,$${libdir}

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man3
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 lib/libdsm.a $(DESTDIR)$(LIBDIR)/
	install -m 755 lib/libdsm.so $(DESTDIR)$(LIBDIR)/libdsm.so.0
	ln -sf libdsm.so.0 $(DESTDIR)$(LIBDIR)/libdsm.so
	install -m 644 include/dsm.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@RPATH@|$(PC_RPATH)|' -e 's|@DEPLIBS@|$(DSM_DEPLIBS)|' \
		dsm.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/dsm.pc
	sed -e 's|@PREFIX@|$(PREFIX)|' dsm-dynamic.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/dsm-dynamic.pc
	sed -e 's|@DSM_CFLAGS@|-I$(PREFIX)/include|' -e 's|@DSM_LIBS@|-L$(LIBDIR) $(RPATH_FLAG) -ldsm|' \
		-e 's|@DSM_LIBS_STATIC@|-L$(LIBDIR) -l:libdsm.a $(DSM_DEPLIBS)|' \
		-e 's|@DSM_WHERE@|installed in $(PREFIX)|' -e 's|@CC@|$(CC)|' scripts/dsmcc.in > $(DESTDIR)$(PREFIX)/bin/dsmcc
	chmod 755 $(DESTDIR)$(PREFIX)/bin/dsmcc
	@sh scripts/install_note.sh '$(PREFIX)' '$(if $(SYSTEM_PREFIX),system)' '$(DESTDIR)'

# dsmcc for the tree: the tree's header and lib/libdsm.a (with a sanitizer
# build's runtime).
TREE_SAN := $(if $(SANITIZE),-fsanitize=$(SANITIZE))
all: bin/dsmcc
bin/dsmcc: scripts/dsmcc.in build/flags
	@mkdir -p $(@D)
	sed -e 's|@DSM_CFLAGS@|-I$(CURDIR)/include $(TREE_SAN)|' \
		-e 's|@DSM_LIBS@|$(CURDIR)/lib/libdsm.a $(DSM_DEPLIBS) $(TREE_SAN)|' \
		-e 's|@DSM_LIBS_STATIC@|$(CURDIR)/lib/libdsm.a $(DSM_DEPLIBS) $(TREE_SAN)|' \
		-e 's|@DSM_WHERE@|the tree in $(CURDIR)|' -e 's|@CC@|$(CC)|' $< > $@.tmp
	chmod 755 $@.tmp && mv $@.tmp $@

demo: all
	bin/dsmexec -n 4 bin/jacobi

clean:
	rm -rf build bin lib tests/out

.PHONY: all tests check chaos chaos-soak bench verify stress fuzz install demo clean FORCE
.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)
