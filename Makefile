# Thin wrapper over CMake for people. `make help` lists the targets.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps check check-asan demo bench install fuzz format clean help

all: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null

deps:            ## install the Debian packages the build, tests and benchmarks need
	sh scripts/deps.sh

check: all       ## build and run the test suite
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan:      ## the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSEQLM_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && SEQLM_ASAN=1 ctest --output-on-failure -j $(JOBS)

demo: all        ## train, evaluate and sample on the corpus shipped in data/
	sh scripts/demo.sh $(BUILD)/seqlm

bench: all       ## speed and memory against the peers, run in the same go (bench/*.sh)
	sh bench/ngram_bench.sh $(BUILD)/seqlm
	sh bench/nn_bench.sh $(BUILD)/seqlm_bench_step
	sh bench/lm_bench.sh $(BUILD)/seqlm
	sh bench/classify_bench.sh $(BUILD)/seqlm
	sh bench/tag_bench.sh $(BUILD)/seqlm

install: all     ## install the CLI, the library, headers and seqlm.pc under PREFIX
	cmake --install $(BUILD)

fuzz:            ## libFuzzer targets for the text and ARPA readers, a few minutes each
	sh fuzz/run.sh

format:          ## clang-format every C file
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

help:
	@grep -E '^[a-z-]+:.*##' Makefile | sed 's/:.*##/\t/'
