/// What to answer to a GET or HEAD for one file, worked out from the request's headers and the
/// file's attributes alone (RFC 9110: ranges, validators, conditional requests). Pure: the I/O
/// layer opens the file through the jail, asks for a plan, and sends the head and the planned
/// byte range.
public struct FileAttributes: Sendable, Equatable {
    public var size: Int
    /// Last modification, Unix seconds.
    public var modified: Int64
    /// Inode and device: part of the entity tag, so a file replaced by another of the same size
    /// and time still gets a new tag.
    public var inode: UInt64
    public var device: UInt64

    public init(size: Int, modified: Int64, inode: UInt64 = 0, device: UInt64 = 0) {
        self.size = size
        self.modified = modified
        self.inode = inode
        self.device = device
    }

    /// A strong entity tag (RFC 9110 8.8.3): the same bytes whenever the tag is the same.
    public var entityTag: String {
        "\"\(String(size, radix: 16))-\(String(modified, radix: 16))-\(String(inode, radix: 16))\""
    }
}

public struct FileResponsePlan: Sendable, Equatable {
    public var status: Int
    public var headers: [(String, String)]
    /// Bytes of the file to send after the head (nil: no body, as for HEAD, 304 or 416).
    public var body: Range<Int>?

    public static func == (a: FileResponsePlan, b: FileResponsePlan) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.elementsEqual(b.headers, by: { $0 == $1 })
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

public enum FileResponse {
    /// - Parameters:
    ///   - isHead: HEAD: the same head as GET, no body.
    ///   - header: the request's header value by name (case-insensitive; several lines joined with ", ").
    ///   - path: the path served, for the Content-Type.
    public static func plan(isHead: Bool, header: (String) -> String?, file: FileAttributes, path: String) -> FileResponsePlan {
        let tag = file.entityTag
        var headers: [(String, String)] = [
            ("Last-Modified", HTTPDate.format(file.modified)),
            ("ETag", tag),
            ("Accept-Ranges", "bytes"),
        ]
        // Conditional GET (RFC 9110 13.2.2): If-None-Match wins over If-Modified-Since.
        if let inm = header("If-None-Match") {
            if matches(inm, tag: tag) { return FileResponsePlan(status: 304, headers: headers, body: nil) }
        } else if let ims = header("If-Modified-Since").flatMap(HTTPDate.parse), file.modified <= ims {
            return FileResponsePlan(status: 304, headers: headers, body: nil)
        }
        headers.insert(("Content-Type", contentType(for: path)), at: 0)
        var range: Range<Int> = 0..<file.size
        var status = 200
        if let spec = header("Range"), ifRangeHolds(header("If-Range"), tag: tag, modified: file.modified) {
            switch ByteRange.parse(spec, size: file.size) {
            case .whole:
                break
            case .part(let r):
                range = r
                status = 206
                headers.append(("Content-Range", "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(file.size)"))
            case .unsatisfiable:
                headers.append(("Content-Range", "bytes */\(file.size)"))
                headers.append(("Content-Length", "0"))
                return FileResponsePlan(status: 416, headers: headers, body: nil)
            }
        }
        headers.append(("Content-Length", String(range.count)))
        return FileResponsePlan(status: status, headers: headers, body: isHead || range.isEmpty ? nil : range)
    }

    /// If-None-Match: `*` or a list of tags, compared weakly (RFC 9110 13.1.2).
    static func matches(_ list: String, tag: String) -> Bool {
        let mine = tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag
        for item in list.split(separator: ",") {
            var t = item.trimmingSpaces()
            if t == "*" { return true }
            if t.hasPrefix("W/") { t = String(t.dropFirst(2)) }
            if t == mine { return true }
        }
        return false
    }

    /// If-Range (RFC 9110 13.1.5): the range applies only if the validator still matches; a
    /// strong tag compares strongly, a date must equal Last-Modified exactly.
    static func ifRangeHolds(_ value: String?, tag: String, modified: Int64) -> Bool {
        guard let v = value?.trimmingSpaces(), !v.isEmpty else { return true }
        if v.hasPrefix("\"") { return v == tag }
        if v.hasPrefix("W/") { return false }
        return HTTPDate.parse(v) == modified
    }

    /// Content-Type by extension. UEFI HTTP boot picks how to run a download by its type:
    /// `application/efi` for an EFI program, and the types edk2 maps to RAM-disk images.
    public static func contentType(for path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        switch name[name.index(after: dot)...].lowercased() {
        case "efi": return "application/efi"
        case "iso": return "application/vnd.efi-iso"
        case "img": return "application/vnd.efi-img"
        case "ipxe", "cfg", "txt", "conf", "sh", "lst": return "text/plain; charset=utf-8"
        case "html", "htm": return "text/html; charset=utf-8"
        case "json": return "application/json"
        default: return "application/octet-stream"
        }
    }
}

/// A `Range: bytes=...` header against a file of `size` bytes (RFC 9110 14.1.2). One range is
/// served as 206; a multi-range request is answered with the whole file (200), which the RFC allows.
enum ByteRange: Equatable {
    case whole
    case part(Range<Int>)
    case unsatisfiable

    static func parse(_ spec: String, size: Int) -> ByteRange {
        let s = spec.trimmingSpaces()
        guard s.lowercased().hasPrefix("bytes=") else { return .whole }   // other units: ignored
        let set = s.dropFirst(6)
        guard !set.contains(",") else { return .whole }
        let parts = set.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        let first = parts[0].trimmingSpaces(), last = parts[1].trimmingSpaces()
        guard first.allSatisfy(\.isASCIIDigit), last.allSatisfy(\.isASCIIDigit), !(first.isEmpty && last.isEmpty) else {
            return .whole   // a syntactically bad Range is ignored (RFC 9110 14.2)
        }
        if first.isEmpty {   // suffix: the last N bytes
            guard let n = Int(last), n > 0 else { return .unsatisfiable }
            return size == 0 ? .unsatisfiable : .part(max(0, size - n)..<size)
        }
        guard let start = Int(first) else { return .unsatisfiable }
        guard start < size else { return .unsatisfiable }
        let end = last.isEmpty ? size - 1 : min(Int(last) ?? Int.max, size - 1)
        guard end >= start else { return .whole }
        return .part(start..<(end + 1))
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
