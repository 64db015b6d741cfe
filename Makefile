# The two entry points of the README. Everything else is CMake + ctest.
#
#   make run    install missing Debian packages, build, run holdfast on its
#               built-in defaults (needs root for port 53)
#   make test   install missing packages, then build and run the whole test
#               suite: unit, integration, fuzz corpus replay, the ASan+UBSan
#               build of all of that, a short libFuzzer run, clang-format
#
# Build trees: build/ (release, jemalloc), build-asan/ (ASan+UBSan),
# build-fuzz/ (clang, libFuzzer).

JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: run build test test-release test-asan test-fuzz format-check demo deckard bench clean

run: build
	./build/daemon/holdfast $(ARGS)

build:
	scripts/install-deps.sh build
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j $(JOBS)

test:
	scripts/install-deps.sh test
	$(MAKE) format-check test-release test-asan test-fuzz

test-release:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j $(JOBS)
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test-fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFUZZ=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	cd build-fuzz && ctest --output-on-failure -L fuzz

format-check:
	@bad=$$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror 2>&1 | grep -c 'error:' || true); \
	if [ "$$bad" != "0" ]; then git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror; exit 1; fi

# The serve-stale / empty-answer-guard demo (README): about 20 s.
demo: build
	demo/run.sh build/daemon/holdfast

deckard:
	tests/deckard/run.sh

clean:
	rm -rf build build-asan build-fuzz build-nojemalloc
