import CLazyLibs

/// A library opened on first use (CLazyLibs): its reason for not loading, as an I/O error naming
/// the Debian package that has it.
enum LazyLibrary {
    static func require(_ failure: UnsafePointer<CChar>?, package: String) throws {
        if let failure { throw DubdeckError(.ioError, "\(String(cString: failure)) (Debian package \(package))") }
    }
}
