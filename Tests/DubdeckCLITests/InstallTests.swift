import Foundation
import TestSupport
import XCTest
@testable import DubdeckBase
@testable import DubdeckJob
@testable import DubdeckAudio
@testable import DubdeckCharacters
@testable import DubdeckCore

/// `make install` into a temporary DESTDIR (the installed binary runs, its man page renders, its
/// completions parse; uninstall leaves nothing) and `make deb` (installed into a scratch root with
/// dpkg, its Depends computed, lintian without errors).
final class InstallTests: XCTestCase {
    func make(_ args: [String]) -> (status: Int32, stdout: String, stderr: String) {
        PostgresCluster.run(["make", "-s", "-C", DubdeckBinary.packageRoot] + args)
    }

    func testInstallRunsTheInstalledToolAndUninstallLeavesNothing() throws {
        let dir = TempDir()
        let stage = dir.file("stage")
        var r = make(["install", "DESTDIR=\(stage)", "PREFIX=/usr"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let usr = stage + "/usr"
        for f in ["bin/dubdeck", "share/man/man1/dubdeck.1", "share/bash-completion/completions/dubdeck", "share/zsh/vendor-completions/_dubdeck",
                  "share/fish/vendor_completions.d/dubdeck.fish", "share/dubdeck/keymaps/default.keys", "share/dubdeck/ge2e_convert.py",
                  "share/doc/dubdeck/CHARACTERS.md", "share/doc/dubdeck/README.md"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: usr + "/" + f), f)
        }
        let bin = usr + "/bin/dubdeck"
        r = PostgresCluster.run([bin, "--version"])
        XCTAssertEqual(r.stdout, DubdeckVersion.string + "\n")
        r = PostgresCluster.run(["env", "XDG_CONFIG_HOME=\(dir.file("config"))", bin, "demo", dir.file("demo"), "--no-tui"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = PostgresCluster.run([bin, "status", dir.file("demo"), "--json"])
        XCTAssertTrue(r.stdout.contains("\"dubdeck_version\": \"\(DubdeckVersion.string)\""), r.stdout)
        r = PostgresCluster.run(["env", "MANPAGER=cat", "MANWIDTH=80", "man", "-l", usr + "/share/man/man1/dubdeck.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("characters reconcile") || r.stdout.contains("reconcile"), "the subcommands are in the page")
        XCTAssertTrue(r.stdout.contains("dubdeck \(DubdeckVersion.string)"), "the version is in the page")
        r = PostgresCluster.run(["bash", "-n", usr + "/share/bash-completion/completions/dubdeck"])
        XCTAssertEqual(r.status, 0, "the bash completion parses: \(r.stderr)")
        r = PostgresCluster.run(["bash", "-c", "source \(usr)/share/bash-completion/completions/dubdeck && complete -p dubdeck"])
        XCTAssertTrue(r.stdout.contains("dubdeck"), r.stdout + r.stderr)
        XCTAssertTrue((try String(contentsOfFile: usr + "/share/fish/vendor_completions.d/dubdeck.fish", encoding: .utf8)).contains("reconcile"))
        r = make(["uninstall", "DESTDIR=\(stage)", "PREFIX=/usr"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let left = PostgresCluster.run(["find", stage, "-mindepth", "1"]).stdout
        XCTAssertEqual(left, "", "uninstall leaves nothing")
    }

    func testTheDebInstallsWithComputedDependsAndLintianFindsNoError() throws {
        var r = make(["deb"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let deb = DubdeckBinary.packageRoot + "/" + (r.stdout.split(separator: "\n").last.map(String.init) ?? "")
        XCTAssertTrue(deb.hasSuffix(".deb") && FileManager.default.fileExists(atPath: deb), r.stdout)
        XCTAssertEqual(PostgresCluster.run(["dpkg-deb", "-f", deb, "Version"]).stdout, DubdeckVersion.string + "\n")
        let depends = PostgresCluster.run(["dpkg-deb", "-f", deb, "Depends"]).stdout
        for lib in ["libncursesw6", "libsndfile1", "libasound2", "libssl3", "libespeak-ng1", "librubberband2", "libsoxr0", "libpq5", "libuchardet0", "libxml2"] {
            XCTAssertTrue(depends.contains(lib), "\(lib) in Depends: \(depends)")
        }
        XCTAssertFalse(depends.contains("swift"), "the Swift runtime is linked in, not a dependency")
        // Installed by dpkg into a scratch root, the binary runs.
        let dir = TempDir()
        let root = dir.file("root")
        for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] { try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true) }
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/var/lib/dpkg/status", contents: Data()))
        r = PostgresCluster.run(["dpkg", "--root=\(root)", "--force-depends", "--force-script-chrootless", "--force-not-root", "-i", deb])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(PostgresCluster.run([root + "/usr/bin/dubdeck", "--version"]).stdout, DubdeckVersion.string + "\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/usr/share/man/man1/dubdeck.1.gz"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/usr/share/doc/dubdeck/copyright"))
        r = PostgresCluster.run(["lintian", "--allow-root", deb])
        let errors = (r.stdout + r.stderr).split(separator: "\n").filter { $0.hasPrefix("E:") }
        XCTAssertEqual(errors, [], "lintian errors:\n\(r.stdout)")
    }
}
