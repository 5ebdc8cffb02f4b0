import CLazyLibs

/// A library opened on first use (CLazyLibs) by the shared object's name this build found
/// (`Soname`, written at build time): why it did not load, naming the Debian package that has it.
package enum LazyLibrary {
    package typealias Loader = (UnsafePointer<CChar>?) -> UnsafePointer<CChar>?

    /// nil when the library is loaded; else why not, and the package to install.
    package static func failure(_ load: Loader, _ soname: String) -> String? {
        guard let why = soname.withCString({ load($0) }) else { return nil }
        return "\(String(cString: why)) (Debian package \(debianPackage(soname)))"
    }

    /// The library loaded, or an I/O error (74) saying why not.
    package static func require(_ load: Loader, _ soname: String) throws {
        if let failure = failure(load, soname) { throw DubdeckError(.ioError, failure) }
    }

    /// The Debian package of a shared library, by Debian's naming of them: libsndfile.so.1 is in
    /// libsndfile1, libfoo1.so.2 in libfoo1-2.
    package static func debianPackage(_ soname: String) -> String {
        // Named before Debian's rule was: libxml2.so.2 is in libxml2.
        if soname == "libxml2.so.2" { return "libxml2" }
        // Debian's package names have no underscore: libwebrtc_audio_processing.so.1 is in libwebrtc-audio-processing1.
        let soname = soname.replacingAll("_", with: "-")
        let parts = soname.split(separator: ".", omittingEmptySubsequences: false)
        guard let so = parts.lastIndex(of: "so"), so > 0, so + 1 < parts.count else { return soname }
        let name = parts[..<so].joined(separator: "."), version = parts[so + 1]
        return name + (name.last?.isNumber == true ? "-" : "") + version
    }
}
