// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dubdeck",
    products: [
        .executable(name: "dubdeck", targets: ["dubdeck"]),
        .library(name: "DubdeckCore", targets: ["DubdeckCore"]),
        .library(name: "DubdeckTUI", targets: ["DubdeckTUI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries, one system-library target each (module.modulemap + shim.h + pkg-config).
        // No pkgConfig: ncursesw.pc's -D flags are refused by SwiftPM with a warning; shim.h defines them.
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw", providers: [.apt(["libncurses-dev"])]),
        .systemLibrary(
            name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // Headers only (no pkgConfig, so no -l flags): CLazyLibs opens these libraries on first use.
        .systemLibrary(name: "CSndfile", path: "Sources/CSndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CAlsa", path: "Sources/CAlsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CEspeak", path: "Sources/CEspeak", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CRubberband", path: "Sources/CRubberband", providers: [.apt(["librubberband-dev"])]),
        .systemLibrary(name: "CSoxr", path: "Sources/CSoxr", providers: [.apt(["libsoxr-dev"])]),
        // Subtitle files' character sets: libuchardet guesses (iconv, in glibc, converts).
        .systemLibrary(name: "CUchardet", path: "Sources/CUchardet", providers: [.apt(["libuchardet-dev"])]),
        // The shared character store of a studio: PostgreSQL's client library (no SwiftNIO stack in a terminal app).
        .systemLibrary(name: "CLibpq", path: "Sources/CLibpq", providers: [.apt(["libpq-dev"])]),
        // The C macros Swift cannot import (COLOR_PAIR, A_BOLD, ...) in one small shim.
        .target(name: "CDubdeckShim", dependencies: ["CNcursesw"], path: "Sources/CDubdeckShim"),

        // The libraries not every command needs, opened on first use (dlopen): not mapped by every command at start.
        // libxml2's headers are included by lazy_libs.c alone (Debian keeps them in /usr/include/libxml2).
        .target(name: "CLazyLibs", dependencies: ["CEspeak", "CLibpq", "CSndfile", "CSoxr", "CRubberband", "CAlsa", "CUchardet"],
                path: "Sources/CLazyLibs", cSettings: [.unsafeFlags(["-I/usr/include/libxml2"])], linkerSettings: [.linkedLibrary("dl")]),
        // The speaker encoder's inner loops, optimised in every build.
        .target(name: "CKernels", path: "Sources/CKernels"),
        // Ctrl-C handling (an async-signal-safe handler: kill children, remove temporaries, exit 130).
        .target(name: "CInterrupt", path: "Sources/CInterrupt"),
        // ALSA's own error printing routed into a message (its handler is variadic: C).
        .target(name: "CAlsaQuiet", dependencies: ["CAlsa", "CLazyLibs"], path: "Sources/CAlsaQuiet"),

        // The base layer: files, processes, signals, clocks, errors (System) and JSON, names, display
        // text (Text). Imports nothing of dubdeck's; everything above imports it. Its Sonames.swift is
        // made at build time (SonamePlugin): the shared objects CLazyLibs opens, as this build found them.
        .target(name: "DubdeckBase", dependencies: ["CInterrupt", "CCrypto"], plugins: ["SonamePlugin"]),
        .executableTarget(name: "soname-probe", path: "Sources/soname-probe"),
        .plugin(name: "SonamePlugin", capability: .buildTool(), dependencies: ["soname-probe"]),
        // The job: its files, the review store and its transaction, the history, the takes' names.
        .target(name: "DubdeckJob", dependencies: ["DubdeckBase"]),
        // Sound: files, engines, the fit, takes, playback. Knows jobs; knows no characters.
        .target(name: "DubdeckAudio", dependencies: ["DubdeckJob", "CInterrupt", "CAlsaQuiet", "CSndfile", "CAlsa", "CEspeak", "CRubberband", "CSoxr", "CLazyLibs", "CKernels"]),
        // The character voice memory: the encrypted store (file or PostgreSQL), matching, identify, reconcile.
        .target(name: "DubdeckCharacters", dependencies: ["DubdeckAudio", "CCrypto", "CKernels", "CLazyLibs", "CInterrupt"]),
        .target(name: "DubdeckCore", dependencies: ["DubdeckBase", "DubdeckJob", "DubdeckAudio", "DubdeckCharacters", "CInterrupt", "CAlsaQuiet", "CCrypto", "CSndfile", "CAlsa", "CEspeak", "CRubberband", "CSoxr", "CUchardet", "CKernels", "CLazyLibs"]),
        .target(name: "DubdeckTUI", dependencies: ["DubdeckCore", "CNcursesw", "CDubdeckShim"]),
        .executableTarget(
            name: "dubdeck",
            dependencies: [
                "DubdeckCore", "DubdeckTUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Benchmark workloads and in-process figures for `make bench` (bench/run.py drives it).
        .executableTarget(name: "dubdeck-bench", dependencies: ["DubdeckCore", "DubdeckTUI", "TestSupport"]),

        // A child process for the crash-consistency test (killed at random moments).
        .executableTarget(name: "dubdeck-torture", dependencies: ["DubdeckCore"], path: "Tests/Torture"),

        .target(name: "TestSupport", dependencies: ["DubdeckCore"], path: "Tests/TestSupport"),
        .testTarget(name: "DubdeckCoreTests", dependencies: ["DubdeckBase", "DubdeckJob", "DubdeckAudio", "DubdeckCharacters", "DubdeckCore", "TestSupport", "CKernels", "CInterrupt"]),
        .testTarget(name: "DubdeckTUITests", dependencies: ["DubdeckTUI", "DubdeckBase", "DubdeckJob", "DubdeckAudio", "DubdeckCharacters", "DubdeckCore", "TestSupport", "CNcursesw"], exclude: ["Desk"]),
        .testTarget(
            name: "DubdeckCLITests", dependencies: ["DubdeckBase", "DubdeckJob", "DubdeckAudio", "DubdeckCharacters", "DubdeckCore", "TestSupport"], exclude: ["Scripts"]),
    ],
    // Swift 6 language mode, complete concurrency checking, for the product and the tests.
    swiftLanguageModes: [.v6]
)
