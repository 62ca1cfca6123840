// The few filesystem calls the config layer needs, over libc so the module does not pull in Foundation.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum FileSystem {
    enum Kind: Equatable {
        case directory
        case notDirectory
        case missing
        case inaccessible(String)
    }

    struct ReadProblem: Error {
        var message: String
        var mark: YAMLNode.Mark? = nil
    }

    static func kind(of path: String) -> Kind {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            return code == ENOENT || code == ENOTDIR ? .missing : .inaccessible(errorText(code))
        }
        // S_IFMT / S_IFDIR: the same octal values on Linux and Darwin; mode_t's width differs.
        return UInt32(st.st_mode) & 0o170000 == 0o040000 ? .directory : .notDirectory
    }

    static func currentDirectory() -> String? {
        guard let p = getcwd(nil, 0) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// The whole file as UTF-8 text.
    static func readText(_ path: String, limit: Int) -> Result<String, ReadProblem> {
        switch kind(of: path) {
        case .directory: return .failure(ReadProblem(message: "is a directory, not a configuration file"))
        case .missing: return .failure(ReadProblem(message: "cannot open: no such file"))
        case .inaccessible(let why): return .failure(ReadProblem(message: "cannot open: \(why)"))
        case .notDirectory: break
        }
        guard let f = fopen(path, "rb") else { return .failure(ReadProblem(message: "cannot open: \(errorText(errno))")) }
        defer { fclose(f) }

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n > 0 { bytes += chunk[0..<n] }
            if bytes.count > limit {
                return .failure(ReadProblem(message: "file is larger than \(limit >> 20) MiB"))
            }
            if n < chunk.count {
                if ferror(f) != 0 { return .failure(ReadProblem(message: "read failed: \(errorText(errno))")) }
                break
            }
        }
        // The standard library's validation is the fast path; the byte walk only runs to place
        // the error.
        if let text = String(validating: bytes, as: UTF8.self) { return .success(text) }
        return .failure(ReadProblem(message: "file is not valid UTF-8", mark: firstInvalidUTF8(bytes)))
    }

    /// Position of the first byte that is not valid UTF-8, nil if the text is clean.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> YAMLNode.Mark? {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var line = 1, column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s):
                if s == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput:
                return nil
            case .error:
                return YAMLNode.Mark(line: line, column: column)
            }
        }
    }

    private static func errorText(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "error \(code)" }
        return String(cString: s)
    }
}
