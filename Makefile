# dubdeck — `make run` opens the demo job; `make test` runs every test.
SWIFT ?= swift
BIN = .build/debug/dubdeck

.PHONY: all deps build run test check-install bench release fuzz clean install uninstall deb staged

# Installation (make install / uninstall / deb): PREFIX and DESTDIR as usual.
PREFIX ?= /usr/local
DESTDIR ?=
# The installed binary links the Swift runtime statically (a reviewer's machine has no toolchain);
# its own build folder, so the debug and benchmark builds are not rebuilt for it.
STATIC = .build/static
VERSION = $(shell sed -n 's/.*static let string = "\(.*\)"/\1/p' Sources/DubdeckBase/System/Version.swift)

all: build

deps:
	@sh scripts/deps.sh

build: deps
	$(SWIFT) build

run: build
	$(BIN) demo ./dubdeck-demo

# Unit tests, headless TUI scripts (Swift Testing: one case per .desk file) and the tmux end-to-end
# test, with XCTest's and Swift Testing's summaries. The installed build is checked apart (check-install).
test: deps
	@python3 -c "import pysubs2" 2>/dev/null || PYTHONPATH=.build/pylib python3 -c "import pysubs2" 2>/dev/null \
		|| python3 -m pip install --quiet --target .build/pylib pysubs2==1.8.1
	@PYTHONPATH=.build/pylib python3 -c "import ttconv" 2>/dev/null \
		|| python3 -m pip install --quiet --target .build/pylib ttconv==1.2.3
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip InstallTests

# The release build as users install it: make install into a staging folder, the installed tool run,
# its man page and completions, then the .deb (dpkg-shlibdeps, lintian). CI runs it after make test.
check-install: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter InstallTests --disable-swift-testing

# The Swift runtime linked in, as installed (make install): what is measured is what users run.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

bench: release
	@python3 -c "import cryptography, numpy, scipy" 2>/dev/null || python3 -m pip install --quiet cryptography numpy scipy
	python3 bench/run.py --bin .build/release/dubdeck --bench .build/release/dubdeck-bench

# libFuzzer over the parsers (JSON, translated.json, store, history, SRT/VTT/ASS, envelope, .npy,
# keymaps, sanitizer); FUZZ_SECONDS per target (default 20).
fuzz: deps
	sh scripts/fuzz.sh

# The release binary, its man page (swift-argument-parser's generate-manual, run on the binary)
# and its completion scripts (--generate-completion-script), in $(STATIC)/out.
staged: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC) --product dubdeck
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC) --product generate-manual
	rm -rf $(STATIC)/out && mkdir -p $(STATIC)/out/man
	$(STATIC)/release/generate-manual $(STATIC)/release/dubdeck --date 2026-11-25 --authors "dubdeck developers" --output-directory $(STATIC)/out/man
	for sh in bash zsh fish; do $(STATIC)/release/dubdeck --generate-completion-script $$sh > $(STATIC)/out/completion.$$sh || exit 1; done

install: staged
	sh scripts/install.sh install "$(DESTDIR)" "$(PREFIX)" $(STATIC)

uninstall:
	sh scripts/install.sh uninstall "$(DESTDIR)" "$(PREFIX)" $(STATIC)

# A .deb from a staged install under /usr; its Depends computed by dpkg-shlibdeps.
deb: staged
	sh scripts/make_deb.sh $(STATIC) $(VERSION)

clean:
	rm -rf .build
