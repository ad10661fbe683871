# Thin wrapper: install missing Debian packages, build with CMake, run.
#   make run     build (release) and run deploy/topologies/edge.yaml
#   make test    build with ASan+UBSan (clang, with fuzz targets) and run ctest
#   make bench   build (release) and run the benchmarks (tools/bench/run.sh)

DEB_PKGS := cmake make pkg-config gcc clang clang-format libclang-rt-14-dev curl procps \
	libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev libsodium-dev libyaml-dev \
	libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev librdkafka-dev libssl-dev \
	libcmocka-dev
# Only make bench needs these (tools/bench/closure.sh: PostgreSQL 15 and
# pgbench, the comparison of lineage closures).
BENCH_PKGS := postgresql-15
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TOPOLOGY ?= deploy/topologies/edge.yaml

.PHONY: all deps bench-deps build build-test run test bench format clean

all: build

deps bench-deps:
	@missing=$$(for p in $(DEB_PKGS) $(if $(filter bench-deps,$@),$(BENCH_PKGS)); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/release -j $(JOBS)

build-test: deps
	CC=clang cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=ON -DSL_FUZZ=ON >/dev/null
	cmake --build build/test -j $(JOBS)

run: build
	./build/release/sluice run $(TOPOLOGY)

test: build-test
	cd build/test && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

bench: build bench-deps
	SLUICE=./build/release/sluice BENCH_DIR=./build/release bash tools/bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
