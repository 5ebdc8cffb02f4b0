import Foundation
import XCTest
import TestSupport
@testable import DubdeckBase
@testable import DubdeckAudio

/// The shared objects CLazyLibs opens are the ones this build's development packages name (written
/// at build time by soname-probe from pkg-config and the ELF SONAME), and an error names the Debian
/// package that has the library.
final class SonameTests: XCTestCase {
    func testTheBuildsSonamesAreTheInstalledLibrariesAndTheirPackages() throws {
        let names = [Soname.espeak, Soname.pq, Soname.sndfile, Soname.soxr, Soname.rubberband, Soname.alsa, Soname.uchardet, Soname.xml2, Soname.webrtc]
        for so in names {
            XCTAssertTrue(so.hasPrefix("lib") && so.contains(".so."), so)
            // The runtime package holds a file of exactly that name (what dlopen will look for).
            let dpkg = Process(), out = Pipe()
            dpkg.executableURL = URL(fileURLWithPath: "/usr/bin/dpkg")
            dpkg.arguments = ["-S", "*/" + so]
            dpkg.standardOutput = out
            try dpkg.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            dpkg.waitUntilExit()
            XCTAssertEqual(dpkg.terminationStatus, 0, "no installed package holds \(so)")
            let package = String(text.split(separator: ":").first ?? "")
            XCTAssertEqual(package, LazyLibrary.debianPackage(so), "the package an error would name for \(so)")
        }
        XCTAssertEqual(Soname.sndfile, "libsndfile.so.1", "Debian 12's libsndfile1")
    }

    func testDebianNamesOfSharedLibraries() {
        XCTAssertEqual(LazyLibrary.debianPackage("libsndfile.so.1"), "libsndfile1")
        XCTAssertEqual(LazyLibrary.debianPackage("libespeak-ng.so.1"), "libespeak-ng1")
        XCTAssertEqual(LazyLibrary.debianPackage("libfoo1.so.2.3"), "libfoo1-2")
        XCTAssertEqual(LazyLibrary.debianPackage("libplain.so"), "libplain.so")
        XCTAssertEqual(LazyLibrary.debianPackage("libxml2.so.2"), "libxml2", "named before the rule")
        XCTAssertEqual(LazyLibrary.debianPackage("libwebrtc_audio_processing.so.1"), "libwebrtc-audio-processing1")
    }
}
