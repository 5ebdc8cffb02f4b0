# dubdeck — `make run` opens the demo job; `make test` runs every test.
SWIFT ?= swift
BIN = .build/debug/dubdeck

.PHONY: all deps build run test bench release fuzz clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	$(SWIFT) build

run: build
	$(BIN) demo ./dubdeck-demo

# Unit tests, headless TUI scripts and the tmux end-to-end test, with XCTest's summary.
test: deps
	@python3 -c "import pysubs2" 2>/dev/null || PYTHONPATH=.build/pylib python3 -c "import pysubs2" 2>/dev/null \
		|| python3 -m pip install --quiet --target .build/pylib pysubs2==1.8.1
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

release: deps
	$(SWIFT) build -c release

bench: release
	@python3 -c "import cryptography, numpy, scipy" 2>/dev/null || python3 -m pip install --quiet cryptography numpy scipy
	python3 bench/run.py --bin .build/release/dubdeck --bench .build/release/dubdeck-bench

# libFuzzer over the parsers (JSON, translated.json, store, history, SRT/VTT/ASS, envelope, .npy,
# keymaps, sanitizer); FUZZ_SECONDS per target (default 20).
fuzz: deps
	sh scripts/fuzz.sh

clean:
	rm -rf .build
