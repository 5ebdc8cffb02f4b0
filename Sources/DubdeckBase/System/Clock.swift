#if canImport(Glibc)
import Glibc
#endif

public enum Clock {
    /// UTC, second precision, "2026-01-01T00:00:00Z" (the store's and the history's format).
    public static func isoNow() -> String { iso(time(nil)) }

    public static func iso(_ t: time_t) -> String {
        var tt = t
        var tmv = tm()
        gmtime_r(&tt, &tmv)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2))Z"
    }

    /// Seconds as m:ss.cc (h:mm:ss.cc past an hour), for lists.
    public static func formatTime(_ seconds: Double) -> String {
        let cs = Int((max(0, seconds) * 100).rounded())
        let h = cs / 360_000, m = (cs / 6000) % 60, s = (cs / 100) % 60, c = cs % 100
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        if h > 0 { return "\(h):\(two(m)):\(two(s)).\(two(c))" }
        return "\(m):\(two(s)).\(two(c))"
    }

    /// Monotonic seconds, for timeouts and benchmarks.
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

public enum UserName {
    /// `--by`, else $USER, else the account name from the password database.
    public static func resolve(_ explicit: String?) -> String {
        if let e = explicit, !e.isEmpty { return e }
        if let u = getenv("USER"), let s = String(validatingCString: u), !s.isEmpty { return s }
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "uid\(getuid())"
    }
}

public enum Environment {
    public static func get(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(validatingCString: v)
    }
}
