/// dubdeck's version: the one source for `--version`, the man page, `status --json` and the .deb.
public enum DubdeckVersion {
    public static let string = "2.0.0"
}
