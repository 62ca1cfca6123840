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
