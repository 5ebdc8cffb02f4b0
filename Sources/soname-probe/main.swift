// The build's own answer to "which shared object is libsndfile here?": for each library dubdeck
// opens on first use (CLazyLibs), pkg-config names the directory, and the SONAME is read from the
// ELF dynamic section of the development link (lib<name>.so) the build would have linked against.
// Writes Sonames.swift (the SonamePlugin runs this at build time). No shell is involved.
#if canImport(Glibc)
import Glibc
#endif

/// (Swift name, pkg-config module, library file stem).
let libraries: [(String, String, String)] = [
    ("espeak", "espeak-ng", "espeak-ng"), ("pq", "libpq", "pq"), ("sndfile", "sndfile", "sndfile"), ("soxr", "soxr", "soxr"),
    ("rubberband", "rubberband", "rubberband"), ("alsa", "alsa", "asound"), ("uchardet", "uchardet", "uchardet"),
    ("xml2", "libxml-2.0", "xml2"), ("webrtc", "webrtc-audio-processing", "webrtc_audio_processing"),
]

func fail(_ message: String) -> Never {
    let line = Array("soname-probe: \(message)\n".utf8)
    _ = write(2, line, line.count)
    exit(1)
}

/// pkg-config's answer, run as a child without a shell ("" when it has none).
func pkgConfig(_ arguments: [String]) -> String {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { fail("pipe: \(errno)") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    let argv = ["pkg-config"] + arguments
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, "pkg-config", &actions, nil, &cArgs, environ)
    cArgs.forEach { free($0) }
    close(fds[1])
    guard rc == 0 else { fail("cannot run pkg-config (\(rc)): install pkg-config") }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fds[0], &buffer, buffer.count)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    close(fds[0])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    guard status == 0 else { fail("pkg-config knows no \(arguments.last ?? ""): install its -dev package (make deps)") }
    return String(decoding: out, as: UTF8.self).trimmingWhitespace
}

/// Where the module's library is: its `libdir`, else its first -L, else beside its .pc file's folder
/// (soxr.pc names none of the first two).
func libraryDirectory(_ module: String, stem: String) -> String {
    var candidates = [pkgConfig(["--variable=libdir", module])]
    candidates += pkgConfig(["--libs-only-L", module]).split(separator: " ").filter { $0.hasPrefix("-L") }.map { String($0.dropFirst(2)) }
    let pcDir = pkgConfig(["--variable=pcfiledir", module])
    if !pcDir.isEmpty { candidates.append(pcDir + "/..") }
    for dir in candidates where !dir.isEmpty && access(dir + "/lib" + stem + ".so", R_OK) == 0 { return dir }
    fail("lib\(stem).so not found for pkg-config's \(module) (in \(candidates.filter { !$0.isEmpty }.joined(separator: ", ")))")
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\n" || $0 == "\t" }
        return String(String.UnicodeScalarView(scalars.reversed()))
    }
}

func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)  // the -dev link is a symbolic link: followed here on purpose
    guard fd >= 0 else { fail("\(path): cannot open (\(errno))") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return bytes
}

/// DT_SONAME of a 64-bit little-endian ELF shared object (the section headers' dynamic section and
/// the string table it links to).
func soname(_ path: String) -> String {
    let b = readFile(path)
    func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
    func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
    func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
    guard b.count > 64, b[0..<4] == [0x7F, 0x45, 0x4C, 0x46], b[4] == 2, b[5] == 1 else { fail("\(path): not a 64-bit little-endian ELF file") }
    let shoff = u64(0x28), shentsize = u16(0x3A), shnum = u16(0x3C)
    guard shoff > 0, shoff + shnum * shentsize <= b.count else { fail("\(path): no section headers") }
    for i in 0..<shnum {
        let sh = shoff + i * shentsize
        guard u32(sh + 4) == 6 else { continue }  // SHT_DYNAMIC
        let offset = u64(sh + 0x18), size = u64(sh + 0x20), link = u32(sh + 0x28)
        let strtab = u64(shoff + link * shentsize + 0x18)
        var d = offset
        while d + 16 <= offset + size, d + 16 <= b.count {
            let tag = u64(d), value = u64(d + 8)
            if tag == 0 { break }
            if tag == 14 {  // DT_SONAME
                var end = strtab + value
                while end < b.count, b[end] != 0 { end += 1 }
                return String(decoding: b[(strtab + value)..<end], as: UTF8.self)
            }
            d += 16
        }
    }
    fail("\(path): no SONAME")
}

guard CommandLine.arguments.count == 2 else { fail("usage: soname-probe OUTPUT.swift") }
var text = """
    // Generated at build time by soname-probe (SonamePlugin): the shared objects this build's
    // development packages name, from pkg-config and each library's ELF SONAME. Do not edit.

    /// The SONAME of each library opened on first use (CLazyLibs), as this build found it.
    package enum Soname {

    """
for (name, module, stem) in libraries {
    let so = soname(libraryDirectory(module, stem: stem) + "/lib" + stem + ".so")
    guard so.hasPrefix("lib"), so.contains(".so"), !so.contains("\""), !so.contains("\\") else { fail("lib\(stem).so: odd SONAME \(so)") }
    text += "    package static let \(name) = \"\(so)\"\n"
}
text += "}\n"
let out = CommandLine.arguments[1]
let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
guard fd >= 0 else { fail("\(out): cannot write (\(errno))") }
let bytes = Array(text.utf8)
guard write(fd, bytes, bytes.count) == bytes.count else { fail("\(out): write failed") }
close(fd)
