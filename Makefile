# The two entry points of the README. Everything else is CMake + ctest.
#
#   make run    install missing Debian packages, build, run holdfast on its
#               built-in defaults (needs root for port 53)
#   make test   install missing packages, then every CI leg below, in order;
#               .ci/run calls it. Each leg can be run alone:
#
#   make format-check  clang-format on every tracked .c/.h
#   make layering      the module graph (docs/layering.txt) and the no-I/O
#                      rule of resolver/ and cache/ (scripts/check-layering.py)
#   make tidy          clang-tidy (bugprone-*, cert-*; .clang-tidy) over
#                      compile_commands.json; only findings not listed in
#                      .clang-tidy-baseline fail (scripts/run-clang-tidy.py)
#   make test-release  gcc, Release (-O3): unit, integration, fuzz replay
#   make test-clang    clang, Release: unit and fuzz replay. The integration
#                      suites are not run again here: they exercise the
#                      binary's behaviour against authorities, which does not
#                      depend on the compiler, take most of the minutes, and
#                      already run twice (gcc Release and gcc ASan+UBSan);
#                      what a second compiler finds (warnings, UB-sensitive
#                      optimisations) shows in the build and the unit tests.
#   make test-asan     gcc, Debug, ASan+UBSan: unit, integration, fuzz replay
#   make test-tsan     clang, ThreadSanitizer: the unit tests that run threads
#                      against the shared structures (TSAN_TESTS); any report
#                      fails, except liburcu's own reclamation frames listed
#                      in tests/tsan.supp
#   make test-fuzz     clang, libFuzzer+ASan+UBSan: corpus replay and a short
#                      fuzzing run per target (HOLDFAST_FUZZ_TIME, 20 s), inputs
#                      up to 65535 octets, each at most HOLDFAST_FUZZ_TIMEOUT
#                      (15 s, fuzz/CMakeLists.txt says why)
#
# Every leg builds with -DWERROR=ON (a plain cmake build leaves it off, so a
# packager's own CFLAGS do not break the build). `make test` prints each
# leg's time. From a clean tree on a 2-core machine (shared, 2026-12-02) it
# took 453 s: format 1, layering 1, tidy 21, release 152, clang 23, asan 166,
# tsan 9, fuzz 80 (the CI budget is 90 minutes).
#
# Build trees: build/ (make run), build-release/, build-clang/, build-asan/,
# build-tsan/, build-fuzz/, build-tidy/ (compile_commands.json only).

JOBS ?= $(shell nproc)
FUZZ_TIME ?= 20
FUZZ_TIMEOUT ?= 15
ARGS ?=

TEST_LEGS = format-check layering tidy test-release test-clang test-asan test-tsan test-fuzz
# The unit tests that start threads on the cache and the upstream tables.
TSAN_TESTS = cache/cache upstream/servers upstream/health upstream/budget daemon/control
empty :=
space := $(empty) $(empty)

.PHONY: run build test $(TEST_LEGS) demo deckard bench clean

run: build
	./build/daemon/holdfast $(ARGS)

build:
	scripts/install-deps.sh build
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j $(JOBS)

test:
	scripts/install-deps.sh test
	@total=$$(date +%s); \
	for leg in $(TEST_LEGS); do \
		start=$$(date +%s); \
		$(MAKE) --no-print-directory $$leg || { echo "make test: $$leg FAILED" >&2; exit 1; }; \
		echo "make test: $$leg passed in $$(( $$(date +%s) - start )) s"; \
	done; \
	echo "make test: all legs passed in $$(( $$(date +%s) - total )) s"

test-release:
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DWERROR=ON >/dev/null
	cmake --build build-release -j $(JOBS)
	cd build-release && ctest --output-on-failure -j $(JOBS)

test-clang:
	CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DWERROR=ON >/dev/null
	cmake --build build-clang -j $(JOBS)
	cd build-clang && ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz'

test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON -DWERROR=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test-tsan:
	CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSAN=ON \
		-DWERROR=ON >/dev/null
	cmake --build build-tsan -j $(JOBS) --target $(subst /,_,$(addprefix test_,$(TSAN_TESTS)))
	cd build-tsan && \
		TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp" \
		ctest --output-on-failure -j $(JOBS) \
		-R '^unit/($(subst $(space),|,$(TSAN_TESTS)))$$'

test-fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFUZZ=ON -DWERROR=ON \
		-DHOLDFAST_FUZZ_TIME=$(FUZZ_TIME) -DHOLDFAST_FUZZ_TIMEOUT=$(FUZZ_TIMEOUT) >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	cd build-fuzz && ctest --output-on-failure -L fuzz

# clang-tidy reads the compile commands of a clang configuration; nothing
# is compiled.
tidy:
	CC=clang cmake -S . -B build-tidy -DCMAKE_BUILD_TYPE=Debug >/dev/null
	/usr/bin/python3 scripts/run-clang-tidy.py build-tidy $(JOBS)

layering:
	/usr/bin/python3 scripts/check-layering.py --self-test
	/usr/bin/python3 scripts/check-layering.py

format-check:
	@bad=$$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror 2>&1 | grep -c 'error:' || true); \
	if [ "$$bad" != "0" ]; then git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror; exit 1; fi

# The serve-stale / empty-answer-guard demo (README): about 20 s.
demo: build
	demo/run.sh build/daemon/holdfast

deckard:
	tests/deckard/run.sh

clean:
	rm -rf build build-release build-clang build-asan build-tsan build-fuzz build-tidy \
		build-nojemalloc
