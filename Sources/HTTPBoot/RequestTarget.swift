/// The file a request target names, before the jail sees it: the path of an origin-form
/// (`/a/b?x`) or absolute-form (`http://host/a/b`) target, percent-decoded (RFC 3986), without
/// query or fragment. Decoding happens once, here, so `%2e%2e` and `%2f` reach the jail as the
/// `..` and `/` they are and are refused there like their plain forms; an encoded NUL, a broken
/// escape or a path that is not UTF-8 is refused here.
public enum RequestTarget {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case badEscape
        case controlCharacter
        case notUTF8
        case notAPath

        public var description: String {
            switch self {
            case .badEscape: "bad percent escape"
            case .controlCharacter: "control character in path"
            case .notUTF8: "path is not UTF-8"
            case .notAPath: "request target is not a path"
            }
        }
    }

    public static func path(_ target: String) throws(Problem) -> String {
        var t = Substring(target)
        if let schemeEnd = t.firstRange(of: "://") {   // absolute-form: drop scheme and authority
            t = t[schemeEnd.upperBound...]
            t = t.firstIndex(of: "/").map { t[$0...] } ?? "/"
        }
        if let q = t.firstIndex(where: { $0 == "?" || $0 == "#" }) { t = t[..<q] }
        guard t.hasPrefix("/") else { throw .notAPath }
        var bytes: [UInt8] = []
        var it = Array(t.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hex(it[it.startIndex]), let lo = hex(it[it.startIndex + 1]) else {
                    throw .badEscape
                }
                it = it.dropFirst(2)
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(b)
            }
        }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw .controlCharacter }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        return s
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
