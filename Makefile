# sqlite-clap — the only build entry point.
#
#   make            build build/libclap.a, build/clap0.so, build/clap (needs only deps)
#   make test       build, check (as root: install) the test tools, run every test
#   make sanitize   the whole suite again under AddressSanitizer + UBSan (build-san/)
#   make fuzz       build the libFuzzer targets (clang) and fuzz each for FUZZ_SECONDS
#   make faults     I/O-error and out-of-memory injection; figures to tests/fault/README.md
#   make bench      benchmarks; results go to tests/bench/RESULTS.md
#   make demo       the main job end to end on samples/ (KEEP=1 keeps its files)
#   make deps       check the build's libraries with pkg-config, apt-get what is missing (as root)
#   make test-deps  the same for the tools of make test / make sanitize (sox, flac, npm...)
#   make fuzz-deps  the same for make fuzz (clang, libFuzzer)
#   make install    PREFIX (/usr/local) and DESTDIR: clap, clap0.so, libclap.a + headers,
#                   clap.pc, the clap(1) man page, bash completion (make uninstall)
#   make clean
#
# Portable flags only: no -march=native in the default build.

BUILD ?= build
CC ?= cc
SAN ?=
FUZZ_SECONDS ?= 60

PKGS = sqlite3 openblas sndfile soxr kissfft-float libutf8proc libcjson libcurl sentencepiece libcrypto zlib
# Recursively expanded on purpose: pkg-config runs when a recipe needs it,
# after `deps` has had its chance to install the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
# oneDNN (libdnnl-dev) ships no pkg-config file: its header and -ldnnl are
# checked by `deps` directly.
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -ldnnl -lgomp -lstdc++ -lm -lpthread

# ext/ is one folder per layer (core, audio, text, nn, ckpt, net, encoders,
# model, train, sql); every layer's headers are on the engine's include path, and
# pipeline/ is not, so the engine cannot include the CLI.
EXT_DIRS = $(sort $(dir $(wildcard ext/*/*.h)))
EXT_INC = $(patsubst %/,-I%,$(EXT_DIRS))

WARN = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
# -fvisibility=hidden: clap0.so exports sqlite3_clap_init alone (it says so
# itself); the static library and the CLI link as before.
CFLAGS_ALL = -std=c11 -O2 -g -fPIC -fvisibility=hidden -pthread -D_GNU_SOURCE $(WARN) $(SAN) -MMD -MP \
             $(EXT_INC) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)
# ext/*.cc: C++ only where a library has no C API (spm_wrap.cc, SentencePiece).
CXX ?= g++
CXXFLAGS_ALL = -std=c++17 -O2 -g -fPIC -fvisibility=hidden -fvisibility-inlines-hidden -pthread $(WARN) $(SAN) -MMD -MP \
               $(EXT_INC) $(PKG_CFLAGS) $(CXXFLAGS)

ENGINE_SRC = $(filter-out ext/sql/%,$(wildcard ext/*/*.c))
SQL_SRC = $(wildcard ext/sql/*.c)
SQL_EXT_OBJ = $(patsubst %.c,$(BUILD)/%_ext.o,$(SQL_SRC))
SQL_CORE_OBJ = $(patsubst %.c,$(BUILD)/%_core.o,$(SQL_SRC))
ENGINE_CXX_SRC = $(wildcard ext/*/*.cc)
ENGINE_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(ENGINE_SRC)) $(patsubst %.cc,$(BUILD)/%.o,$(ENGINE_CXX_SRC))
# The extension links the runtime only: ext/train (the CLAP loss, the trainer,
# the metrics) is for the CLI and is left out of clap0.so.
RUNTIME_OBJ = $(filter-out $(BUILD)/ext/train/%,$(ENGINE_OBJ))
PIPE_SRC = $(wildcard pipeline/*.c)
PIPE_ASM = $(wildcard pipeline/*.S)
PIPE_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(PIPE_SRC)) $(patsubst %.S,$(BUILD)/%.o,$(PIPE_ASM))
PIPE_LIB_OBJ = $(filter-out $(BUILD)/pipeline/main.o,$(PIPE_OBJ))
BENCH_SRC = $(wildcard tests/bench/bench_*.c)
BENCH_BIN = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN = $(patsubst tests/fuzz/%.c,$(BUILD)/tests/replay_%,$(FUZZ_SRC))
FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

.PHONY: all test sanitize fuzz faults bench demo deps test-deps bench-deps fuzz-deps clean unit-bins install uninstall
all: deps $(BUILD)/libclap.a $(BUILD)/clap0.so $(BUILD)/clap

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# Parallel regions run on OpenMP, oneDNN's runtime in Debian's build (nn_threads.h).
$(BUILD)/ext/nn/nn_threads.o: CFLAGS += -fopenmp

# The CLI, the tests and the benchmarks see the engine's headers and pipeline/.
$(BUILD)/pipeline/%.o: pipeline/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ipipeline -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# .incbin is invisible to -MMD: rebuild the embedded schema when it changes.
$(BUILD)/pipeline/schema_sql.o: sql/schema.sql

# The SQL binding (ext/sql) is compiled twice: as a loadable extension
# (sqlite3ext.h routines) for clap0.so, and with SQLITE_CORE for static use in
# the CLI.
$(BUILD)/ext/sql/%_ext.o: ext/sql/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@
$(BUILD)/ext/sql/%_core.o: ext/sql/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DSQLITE_CORE -c $< -o $@

$(BUILD)/libclap.a: $(ENGINE_OBJ) $(SQL_CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The version script keeps the C++ standard library's template instances
# (default visibility in libstdc++'s headers) out of the dynamic symbols too.
$(BUILD)/clap0.so: $(RUNTIME_OBJ) $(SQL_EXT_OBJ) ext/sql/clap0.map
	$(CC) -shared $(LDFLAGS_ALL) -Wl,--version-script=ext/sql/clap0.map -o $@ $(filter %.o,$^) $(PKG_LIBS)

# The pipeline's modules (all but main.o) as a library, so unit tests can link them.
$(BUILD)/libclap_pipeline.a: $(PIPE_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/clap: $(PIPE_OBJ) $(BUILD)/libclap.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(PIPE_OBJ) $(BUILD)/libclap.a $(PKG_LIBS)

TEST_LIBS = $(BUILD)/libclap_pipeline.a $(BUILD)/libclap.a
# Reference implementations the unit tests compare against (not in the engine).
UNIT_ORACLE = $(wildcard tests/unit/oracle_*.c)
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/harness.h $(UNIT_ORACLE) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ipipeline -Itests/unit $(LDFLAGS_ALL) -o $@ $< $(UNIT_ORACLE) $(TEST_LIBS) $(PKG_LIBS)

$(BUILD)/bench/bench_%: tests/bench/bench_%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ipipeline $(LDFLAGS_ALL) -o $@ $< $(TEST_LIBS) $(PKG_LIBS)

# Every fuzz target's corpus is replayed by a plain driver in `make test`.
$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ipipeline $(LDFLAGS_ALL) -o $@ $< tests/fuzz/replay_main.c $(TEST_LIBS) $(PKG_LIBS)

# Fault injection (tests/fault/README.md): the VFS shim is preloaded into the
# clap binary by the tests only; oom_sql links the engine with every
# allocation call of ext/ routed to its counters (--wrap).
FAULT_BIN = $(BUILD)/fault/libfaultvfs.so $(BUILD)/fault/oom_sql
OOM_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=strdup,--wrap=aligned_alloc
$(BUILD)/fault/libfaultvfs.so: tests/fault/faultvfs.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -shared $(LDFLAGS_ALL) -o $@ $< -lsqlite3
$(BUILD)/fault/oom_sql: tests/fault/oom_sql.c $(BUILD)/libclap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(OOM_WRAP) $(BUILD)/libclap.a $(PKG_LIBS)

unit-bins: $(BUILD)/libclap_pipeline.a $(UNIT_BIN) $(REPLAY_BIN) $(FAULT_BIN)

test: all test-deps
	@$(MAKE) --no-print-directory unit-bins
	@BUILD=$(BUILD) bash tests/run.sh

# CLAP_SAN tells the tests the flags, for what they build themselves
# (test_install's make install and its program).
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
sanitize: test-deps
	@$(MAKE) --no-print-directory BUILD=build-san SAN="$(SAN_FLAGS)" \
	  build-san/libclap.a build-san/clap0.so build-san/clap unit-bins
	@BUILD=build-san CLAP_SANITIZED=1 CLAP_SAN="$(SAN_FLAGS)" bash tests/run.sh

# libFuzzer needs clang; the engine and the pipeline's modules are compiled
# with it once, into $(BUILD)/fuzz/libclap.a, which every target links.
# tests/fuzz/lsan.supp names a leak inside libvorbis on malformed multi-stream
# Ogg (xiph/vorbis#125), not in our code.
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer-no-link,address,undefined -std=c11 -D_GNU_SOURCE -pthread \
              -MMD -MP $(EXT_INC) -Ipipeline $(PKG_CFLAGS)
FUZZ_LIB_OBJ = $(patsubst %.c,$(BUILD)/fuzz/%.o,$(ENGINE_SRC) $(SQL_SRC) $(filter-out pipeline/main.c,$(PIPE_SRC))) \
               $(patsubst %.S,$(BUILD)/fuzz/%.o,$(PIPE_ASM)) $(patsubst %.cc,$(BUILD)/fuzz/%.o,$(ENGINE_CXX_SRC))
$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/ext/sql/%.o: ext/sql/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -DSQLITE_CORE -c $< -o $@
$(BUILD)/fuzz/%.o: %.S
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/%.o: %.cc
	@mkdir -p $(dir $@)
	clang++ -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr -std=c++17 $(EXT_INC) \
	  $(PKG_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/pipeline/schema_sql.o: sql/schema.sql
$(BUILD)/fuzz/libclap.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libclap.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libclap.a $(PKG_LIBS)

# Each target is its own make goal, so `make -j2 fuzz` fuzzes two at a time;
# the summary (runs, exec/s, coverage, corpus, verdict) ends in
# $(BUILD)/fuzz/SUMMARY.
FUZZ_RAN = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%.ran,$(FUZZ_SRC))
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@$(MAKE) --no-print-directory $(FUZZ_RAN)
	@cat $(FUZZ_RAN) | tee $(BUILD)/fuzz/SUMMARY
$(BUILD)/fuzz/%.ran: $(BUILD)/fuzz/% FORCE
	@bash tests/fuzz/run_one.sh $< $(FUZZ_SECONDS) $(BUILD)
FORCE:

faults: all
	@$(MAKE) --no-print-directory $(FAULT_BIN)
	@BUILD=$(BUILD) bash tests/fault/run.sh --full

bench: all bench-deps $(BENCH_BIN)
	@BUILD=$(BUILD) bash tests/bench/run.sh

# KEEP=1 keeps the demo's temporary directory (database, HTML report).
demo: all
	@KEEP=$(KEEP) bash samples/demo.sh

# ---- install
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
CLAP_VERSION = $(shell sed -n 's/^\#define CLAP_VERSION "\(.*\)"/\1/p' ext/core/clap_version.h)
INSTALLED = $(BINDIR)/clap $(LIBDIR)/clap0.so $(LIBDIR)/libclap.a $(LIBDIR)/pkgconfig/clap.pc \
            $(MANDIR)/man1/clap.1 $(BASHCOMPDIR)/clap $(INCLUDEDIR)/clap

# The man page is generated from the help texts the binary prints.
$(BUILD)/clap.1: $(BUILD)/clap pipeline/mkman.sh
	bash pipeline/mkman.sh $(BUILD)/clap > $@.tmp && mv $@.tmp $@

# clap.pc: libclap.a (the engine and the SQL functions, sqlite_clap.h) is
# the only library installed, so -lclap links it statically; the libraries
# it calls are Requires, linked as the system has them (shared on Debian).
# Written by install, for its PREFIX.
CLAP_PC = 'prefix=$(PREFIX)' 'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' \
	  'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))' '' \
	  'Name: clap' \
	  'Description: sqlite-clap: zero-shot speech emotion recognition inside SQLite (engine and SQL functions)' \
	  'Version: $(CLAP_VERSION)' 'Requires: $(PKGS)' \
	  'Cflags: -I$${includedir}/clap' 'Libs: -L$${libdir} -lclap -ldnnl -lgomp -lstdc++ -lm -lpthread'

install: all $(BUILD)/clap.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/clap \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(BUILD)/clap $(DESTDIR)$(BINDIR)/clap
	install -m 755 $(BUILD)/clap0.so $(DESTDIR)$(LIBDIR)/clap0.so
	install -m 644 $(BUILD)/libclap.a $(DESTDIR)$(LIBDIR)/libclap.a
	install -m 644 $(wildcard ext/*/*.h) $(DESTDIR)$(INCLUDEDIR)/clap
	printf '%s\n' $(CLAP_PC) > $(DESTDIR)$(LIBDIR)/pkgconfig/clap.pc
	install -m 644 $(BUILD)/clap.1 $(DESTDIR)$(MANDIR)/man1/clap.1
	install -m 644 pipeline/clap.bash-completion $(DESTDIR)$(BASHCOMPDIR)/clap

uninstall:
	rm -rf $(addprefix $(DESTDIR),$(INSTALLED))

# What each target needs, as Debian packages. `make` needs only the build's
# libraries (and pkg-config); the tests, the sanitizer run and the fuzzers
# check for their own tools. Each list is checked and, as root, what is
# missing is installed with apt-get; otherwise the apt-get command is printed.
# Library -> Debian package; tools are checked by name.
DEB_LIBS = sqlite3:libsqlite3-dev openblas:libopenblas-dev sndfile:libsndfile1-dev \
           soxr:libsoxr-dev kissfft-float:libkissfft-dev libutf8proc:libutf8proc-dev \
           libcjson:libcjson-dev libcurl:libcurl4-openssl-dev sentencepiece:libsentencepiece-dev \
           libcrypto:libssl-dev zlib:zlib1g-dev
TEST_TOOLS = sqlite3:sqlite3 flac:flac sox:sox espeak-ng:espeak-ng npm:npm chromium:chromium \
             openssl:openssl
FUZZ_TOOLS = clang:clang

# Install the packages in $$missing (as root) or print the command; the
# target's name prefixes the messages.
INSTALL_MISSING = if [ -n "$$missing" ]; then \
	  cmd="apt-get install -y --no-install-recommends$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "$@: installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$cmd -qq) >/tmp/clap-$@.log 2>&1 || \
	      { tail -20 /tmp/clap-$@.log; echo "$@: '$$cmd' failed"; exit 1; }; \
	  else echo "$@: missing packages; run as root: $$cmd"; exit 1; fi; \
	fi

# The build: pkg-config and the libraries.
deps:
	@missing=""; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	for p in $(DEB_LIBS); do pkg-config --exists $${p%%:*} 2>/dev/null || missing="$$missing $${p#*:}"; done; \
	[ -e /usr/include/oneapi/dnnl/dnnl.h ] || missing="$$missing libdnnl-dev"; \
	$(INSTALL_MISSING)

# make test and make sanitize: the tools the tests call. After deps, so two
# apt-get runs never race under -j.
test-deps: deps
	@missing=""; \
	for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	dpkg -s libsox-fmt-all >/dev/null 2>&1 || missing="$$missing libsox-fmt-all"; \
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || missing="$$missing python3-jsonschema"; \
	/usr/bin/python3 -c 'import numpy' 2>/dev/null || missing="$$missing python3-numpy"; \
	$(INSTALL_MISSING)

# make bench: the peers — PyTorch and torchaudio (Debian's python3-torch),
# SentencePiece for the DistilBERT peer's tokenizer fixture, WebRTC's VAD for
# the call segmenter's (dlopen'd by bench_vad; nothing links it).
bench-deps: test-deps
	@missing=""; \
	/usr/bin/python3 -c 'import torch' 2>/dev/null || missing="$$missing python3-torch"; \
	/usr/bin/python3 -c 'import torchaudio' 2>/dev/null || missing="$$missing python3-torchaudio"; \
	/usr/bin/python3 -c 'import sentencepiece' 2>/dev/null || missing="$$missing python3-sentencepiece"; \
	dpkg -s libwebrtc-audio-processing1 >/dev/null 2>&1 || missing="$$missing libwebrtc-audio-processing1"; \
	$(INSTALL_MISSING)

# make fuzz: clang and its libFuzzer runtime.
fuzz-deps: deps
	@missing=""; \
	for t in $(FUZZ_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	[ -e "$$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || \
	  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || \
	  missing="$$missing libclang-rt-14-dev"; \
	$(INSTALL_MISSING)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
