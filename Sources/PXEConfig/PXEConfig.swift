// Entry points: YAML file -> validated PXEConfiguration, or every problem found on the way.

public enum PXEConfig {
    /// Largest configuration file accepted; anything bigger is almost certainly the wrong file.
    static let maxFileSize = 16 << 20

    /// Reads, parses and validates the file at `path`. Relative paths inside it (TFTP roots, the
    /// lease file) are resolved against the directory containing the file.
    public static func load(path: String) throws(ConfigErrors) -> PXEConfiguration {
        let text: String
        switch FileSystem.readText(path, limit: maxFileSize) {
        case .success(let t):
            text = t
        case .failure(let problem):
            throw ConfigErrors(errors: [ConfigError(file: path, line: problem.mark?.line ?? 0,
                                                    column: problem.mark?.column ?? 0, path: "",
                                                    message: problem.message)])
        }
        return try parse(text: text, filename: path)
    }

    /// Parses and validates configuration text. `filename` is used in messages and, through its
    /// directory, to resolve relative paths (the current directory when it has none).
    /// Filesystem checks (TFTP roots exist) still run.
    public static func parse(text: String, filename: String = "<memory>") throws(ConfigErrors) -> PXEConfiguration {
        try parse(text: text, filename: filename, fileKind: FileSystem.kind(of:))
    }

    /// `fileKind` answers "is this a directory?" for TFTP roots; tests replace it.
    static func parse(text: String, filename: String,
                      fileKind: (String) -> FileSystem.Kind) throws(ConfigErrors) -> PXEConfiguration {
        if let problem = unusualLineBreak(in: text, filename: filename) { throw ConfigErrors(errors: [problem]) }
        let (root, yamlErrors) = YAMLParser.parseCollecting(text: text, filename: filename)
        var loader = ConfigLoader(file: filename, baseDirectory: baseDirectory(for: filename))
        loader.errors = yamlErrors
        if let root {
            loader.decode(root)
            loader.validate(fileKind: fileKind)
        }
        guard loader.errors.isEmpty else { throw ConfigErrors(errors: loader.errors.sortedByPosition()) }
        var config = loader.config
        config.source = filename
        return config
    }

    /// YAML 1.1 also breaks lines at a lone CR, NEL, LS and PS, so libyaml's line numbers would
    /// not match what an editor shows. Refuse such files with a position an editor agrees with
    /// (found by a fuzzer). CR LF (DOS line ends) is fine.
    static func unusualLineBreak(in text: String, filename: String) -> ConfigError? {
        // A byte scan (this runs on every reload): CR not before LF, NEL (C2 85), LS/PS (E2 80 A8/A9).
        var text = text
        return text.withUTF8 { b -> ConfigError? in
            var line = 1, column = 1
            var i = 0
            while i < b.count {
                let c = b[i]
                var found: String? = nil
                if c == 0x0A {
                    line += 1; column = 1; i += 1; continue
                } else if c == 0x0D && !(i + 1 < b.count && b[i + 1] == 0x0A) {
                    found = "carriage return without a line feed"
                } else if c == 0xC2 && i + 1 < b.count && b[i + 1] == 0x85 {
                    found = "Unicode line separator U+85"
                } else if c == 0xE2 && i + 2 < b.count && b[i + 1] == 0x80 && (b[i + 2] == 0xA8 || b[i + 2] == 0xA9) {
                    found = "Unicode line separator U+\(b[i + 2] == 0xA8 ? "2028" : "2029")"
                }
                if let found {
                    return ConfigError(file: filename, line: line, column: column, path: "",
                                       message: "\(found): save the file with Unix (LF) or DOS (CR LF) line ends")
                }
                if c & 0xC0 != 0x80 { column += 1 }   // count characters, not continuation bytes
                i += 1
            }
            return nil
        }
    }

    /// Absolute directory of `filename`, so resolved paths survive a later change of directory.
    static func baseDirectory(for filename: String) -> String {
        var dir = "."
        if let slash = filename.lastIndex(of: "/") {
            dir = String(filename[..<slash])
            if dir.isEmpty { dir = "/" }
        }
        if !dir.hasPrefix("/"), let cwd = FileSystem.currentDirectory() {
            dir = cwd + "/" + dir
        }
        return normalise(dir)
    }

    /// Drops `.` and empty components; `..` is kept because symlinks make it non-lexical.
    static func normalise(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    static func resolve(_ path: String, against base: String) -> String {
        path.hasPrefix("/") ? path : normalise(base + "/" + path)
    }
}
