#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps every file a client names inside the TFTP root.
///
/// The name is cleaned first (`\` becomes `/`, a leading `/` means the root, `.` dropped), and any
/// `..`, control byte or empty path is refused outright. After opening, the descriptor's real path
/// (from /proc/self/fd) must still lie under the root's real path plus "/", so symlinks that leave
/// the root and sibling-prefix tricks (`/srv/tftp2` against `/srv/tftp`) fail even if the tree
/// changes between the check and the open.
public struct PathJail: Sendable {
    public let root: String
    public let realRoot: String

    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case notFound
        case accessViolation(String)
        case exists
        public var code: TFTPErrorCode {
            switch self {
            case .notFound: .fileNotFound
            case .accessViolation: .accessViolation
            case .exists: .fileExists
            }
        }
        public var description: String {
            switch self {
            case .notFound: "file not found"
            case .accessViolation(let why): "access violation: \(why)"
            case .exists: "file already exists"
            }
        }
    }

    public init(root: String) throws(Refusal) {
        self.root = root
        guard let real = PathJail.realpath(root) else { throw .accessViolation("root \(root) does not exist") }
        realRoot = real
    }

    /// Cleans a requested name into path components relative to the root.
    public static func components(of requested: String) throws(Refusal) -> [String] {
        var parts: [String] = []
        for scalar in requested.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F {
            throw .accessViolation("control character in file name")
        }
        let normalized = requested.replacingBackslashes()
        for part in normalized.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw .accessViolation("'..' in file name") }
            parts.append(String(part))
        }
        guard !parts.isEmpty else { throw .accessViolation("empty file name") }
        return parts
    }

    /// Opens an existing regular file under the root for reading. Returns the descriptor and size.
    public func openForReading(_ requested: String) throws(Refusal) -> (fd: Int32, size: Int, path: String) {
        let parts = try PathJail.components(of: requested)
        let path = realRoot + "/" + parts.joined(separator: "/")
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT || e == ENOTDIR { throw .notFound }
            throw .accessViolation(String(cString: strerror(e)))
        }
        do throws(Refusal) {
            try checkInside(fd: fd)
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw .accessViolation("cannot stat") }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw .accessViolation("not a regular file") }
            // Clear O_NONBLOCK (it only kept a FIFO from blocking the open).
            _ = fcntl(fd, F_SETFL, 0)
            return (fd, Int(st.st_size), path)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Creates a temporary file beside the target for an upload. The caller renames it with
    /// `commitUpload` once the last block arrived, so a half upload never replaces anything.
    public func createForWriting(_ requested: String, overwrite: Bool) throws(Refusal) -> (fd: Int32, temp: String, final: String) {
        let parts = try PathJail.components(of: requested)
        let name = parts[parts.count - 1]
        let dirPath = ([realRoot] + parts.dropLast()).joined(separator: "/")
        guard let realDir = PathJail.realpath(dirPath) else { throw .notFound }
        guard realDir == realRoot || realDir.hasPrefix(realRoot + "/") else { throw .accessViolation("outside the root") }
        let final = realDir + "/" + name
        var st = stat()
        if lstat(final, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFLNK { throw .accessViolation("target is a symbolic link") }
            if (st.st_mode & S_IFMT) != S_IFREG { throw .accessViolation("target is not a regular file") }
            if !overwrite { throw .exists }
        }
        var attempt = 0
        while true {
            let temp = realDir + "/.\(name).pxed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 {
                do throws(Refusal) { try checkInside(fd: fd) } catch { close(fd); unlink(temp); throw error }
                return (fd, temp, final)
            }
            attempt += 1
            if errno != EEXIST || attempt > 8 { throw .accessViolation(String(cString: strerror(errno))) }
        }
    }

    /// Makes an upload durable and visible: fsync the data, then link or rename into place, then
    /// fsync the directory. Without `overwrite`, link(2) refuses to replace a file that appeared
    /// meanwhile.
    public static func commitUpload(fd: Int32, temp: String, final: String, overwrite: Bool) throws(Refusal) {
        guard fsync(fd) == 0 else { throw .accessViolation("fsync failed: \(String(cString: strerror(errno)))") }
        if overwrite {
            guard rename(temp, final) == 0 else { throw .accessViolation("rename failed: \(String(cString: strerror(errno)))") }
        } else {
            guard link(temp, final) == 0 else {
                let e = errno
                unlink(temp)
                throw e == EEXIST ? .exists : .accessViolation("link failed: \(String(cString: strerror(e)))")
            }
            unlink(temp)
        }
        let dir = String(final[..<(final.lastIndex(of: "/") ?? final.endIndex)])
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    private func checkInside(fd: Int32) throws(Refusal) {
        guard let actual = PathJail.readlink("/proc/self/fd/\(fd)") else { throw .accessViolation("cannot verify path") }
        guard actual.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") else { throw .accessViolation("outside the root") }
    }

    static func realpath(_ path: String) -> String? {
        guard let p = Glibc.realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func readlink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = Glibc.readlink(path, &buf, 4096)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension String {
    func replacingBackslashes() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\\" ? "/" : $0 }))
    }
}
