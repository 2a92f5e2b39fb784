# pyprof -- the one build description.  setup.py calls `make sampler`.
#
#   make            build build/pyprof-sampler
#   make deps       install what is missing (Debian packages, pytest) and provision
#                   the extra interpreters (make interpreters)
#   make interpreters  CPython 3.14.8/3.14.10/3.15.0/3.15.2 from Debian's sid/forky
#                   binaries (isolated apt, patchelf'ed onto their own glibc) and a
#                   free-threaded 3.13t built from source, in $PYPROF_INTERP_CACHE
#                   (~/.cache/pyprof/interpreters): interpreters.txt lists them;
#                   see docs/versions.md
#   make test       deps + C unit tests (ASan/UBSan) + Python and end-to-end tests
#                   + a 10 s run of each fuzz target
#   make check      C unit tests under ASan+UBSan
#   make demo       profile a Flask app under Gunicorn, write a flame graph + report
#   make bench      benchmarks (not part of the tests); see docs/performance.md
#   make fuzz       libFuzzer targets (tests/fuzz/) and the Atheris fuzzer of the raw
#                   reader and renderers, FUZZ_SECONDS each (default 20), FUZZ_JOBS (2)
#                   at a time; the long run is `make fuzz FUZZ_SECONDS=1800`
#   make stress     >= 200 kill-safety trials across the modes, with a summary table
#   make soak       SOAK_SECONDS (600) at 1 kHz on churning threads, and at 100 Hz --native
#   make lint       layer check of csrc/ includes; no import cycle in pyprof/
#   make offsets    regenerate csrc/py/offsets_3_X.h from installed interpreters

CC      ?= cc
PYTHON  ?= python3
BUILD   ?= build
# -Werror for make and CI; setup.py (users' pip builds) passes WERROR= so that a
# newer compiler's new warning does not break an install
WERROR  ?= -Werror
WARN    := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wundef -Wvla -Wpointer-arith -fno-common
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_DEFAULT_SOURCE -fno-omit-frame-pointer $(WARN)
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all

SRCS := $(wildcard csrc/*.c csrc/py/*.c)
LIB_SRCS := $(filter-out csrc/main.c,$(SRCS))
OBJS := $(SRCS:csrc/%.c=$(BUILD)/obj/%.o)
HDRS := $(wildcard csrc/*.h csrc/py/*.h)
C_TESTS := $(wildcard tests/c/test_*.c)

.PHONY: all sampler deps interpreters test check pytest demo bench bench-unwind fuzz lint offsets clean

all: sampler
sampler: $(BUILD)/pyprof-sampler

$(BUILD)/obj/%.o: csrc/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The BPF capture program (csrc/bpf/, docs/native.md): built and embedded when clang
# can target BPF (x86-64); without it the sampler has no bpf capture mode and says so.
BPF_CLANG ?= clang
HAVE_BPF ?= $(shell [ "$$(uname -m)" = x86_64 ] && echo 'int x;' | \
	$(BPF_CLANG) -target bpf -x c -c -o /dev/null - >/dev/null 2>&1 && echo 1)
ifeq ($(HAVE_BPF),1)
BPF_BLOB := $(BUILD)/obj/bpf_blob.o
$(BUILD)/obj/bpf.o: override CFLAGS += -DPP_HAVE_BPF
$(BUILD)/obj/bpf.o: $(BUILD)/bpf/capture.bpf.o
endif

$(BUILD)/bpf/capture.bpf.o: csrc/bpf/capture.bpf.c csrc/bpf/capture.h
	@mkdir -p $(dir $@)
	$(BPF_CLANG) -target bpf -O2 -g -ffreestanding -Wall -Wextra $(WERROR) -c -o $@ $<

$(BUILD)/obj/bpf_blob.o: $(BUILD)/bpf/capture.bpf.o
	@mkdir -p $(dir $@)
	printf '.section .rodata\n.balign 8\n.globl pp_bpf_object\npp_bpf_object:\n.incbin "%s"\n.globl pp_bpf_object_end\npp_bpf_object_end:\n.section .note.GNU-stack,"",@progbits\n' \
	    $< | $(CC) -c -x assembler -o $@ -

$(BUILD)/pyprof-sampler: $(OBJS) $(BPF_BLOB)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(BPF_BLOB) -lm -ldl

deps:
	@sh tools/deps.sh "$(PYTHON)"

interpreters:
	@bash tools/interpreters.sh

# C unit tests: each tests/c/test_X.c links against the whole library
# (minus main.c) under ASan+UBSan.
$(BUILD)/ctest/%: tests/c/%.c $(LIB_SRCS) $(HDRS) tests/c/tap.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_DEFAULT_SOURCE $(WARN) -Wno-missing-prototypes $(SANFLAGS) -iquote csrc \
	    -o $@ $< $(LIB_SRCS) -lm -ldl

check: $(C_TESTS:tests/c/%.c=$(BUILD)/ctest/%)
	@set -e; for t in $^; do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 ./$$t; done

pytest: sampler
	$(PYTHON) -m pytest -q -ra tests/py tests/e2e

# the pytest summary comes last: it is the run's closing line
test: deps sampler check
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10
	@$(MAKE) --no-print-directory pytest

# a Flask app under Gunicorn (2 workers), loaded by ab, profiled through the
# master's PID: pyprof-demo.svg, pyprof-demo-report.txt (examples/gunicorn_demo.py)
demo: deps sampler
	$(PYTHON) examples/gunicorn_demo.py

bench: sampler
	$(PYTHON) tests/bench/bench.py

# libdw vs libunwind on the same samples of a deep -O2 -fomit-frame-pointer
# native stack (tests/bench/unwind_bench.c)
bench-unwind: $(BUILD)/bench/unwind_bench $(BUILD)/bench/unwind_target
	./$(BUILD)/bench/unwind_bench ./$(BUILD)/bench/unwind_target

$(BUILD)/bench/unwind_target: tests/bench/unwind_target.c tests/bench/unwind_targetlib.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fomit-frame-pointer -fPIC -shared -o $(BUILD)/bench/libunwtgt.so \
	    tests/bench/unwind_targetlib.c
	$(CC) -O2 -g -fomit-frame-pointer -o $@ tests/bench/unwind_target.c \
	    -L$(BUILD)/bench -lunwtgt -Wl,-rpath,'$$ORIGIN'

$(BUILD)/bench/unwind_bench: tests/bench/unwind_bench.c $(filter-out $(BUILD)/obj/main.o,$(OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote csrc -o $@ $^ -lm -ldl

# libFuzzer targets: one per decoder of remote or file bytes.  Seeds: the
# snapshot fixtures (walk), our own maps and binary (maps, elf).
FUZZ_SECONDS ?= 20
FUZZ_JOBS ?= 2
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS := -std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all -iquote csrc

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) -lm -ldl

fuzz: sampler
	@sh tools/deps.sh "$(PYTHON)" fuzz
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
	@mkdir -p $(BUILD)/fuzz/seeds-fuzz_walk $(BUILD)/fuzz/seeds-fuzz_maps $(BUILD)/fuzz/seeds-fuzz_elf
	@cp tests/fixtures/*.snap $(BUILD)/fuzz/seeds-fuzz_walk/
	@cat /proc/self/maps > $(BUILD)/fuzz/seeds-fuzz_maps/self
	@cp $(BUILD)/pyprof-sampler $(BUILD)/fuzz/seeds-fuzz_elf/sampler
	@$(PYTHON) tools/fuzz_run.py --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS) $(FUZZ_TARGETS) fuzz_raw

lint:
	@$(PYTHON) tools/layercheck.py csrc
	@$(PYTHON) tools/pyimportcheck.py pyprof

offsets:
	sh tools/gen_offsets.sh

clean:
	rm -rf $(BUILD) pyprof/_bin *.egg-info

# issue 10: kill-safety trials (tools/stress.py; a few of them run in make test)
# and a long soak of the sampler (tools/soak.py); neither is part of make test
STRESS_TRIALS ?= 216
SOAK_SECONDS ?= 600
.PHONY: stress soak
stress: sampler
	$(PYTHON) tools/stress.py --trials $(STRESS_TRIALS)

soak: sampler
	$(PYTHON) tools/soak.py --seconds $(SOAK_SECONDS)
