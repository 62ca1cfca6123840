// Typed readers for scalar values. Each reports its own problem at the value and returns nil,
// so the caller simply keeps the default and decoding goes on.

extension ConfigLoader {
    /// An address range as written, with the position of each end for precise messages.
    struct AddressRange {
        var start: IPv4Address
        var end: IPv4Address
        var mark: YAMLNode.Mark
        var startMark: YAMLNode.Mark
        var endMark: YAMLNode.Mark
    }

    static let rangeExample = "an address range like 10.0.0.100-10.0.0.199"

    mutating func scalarText(_ node: YAMLNode, _ path: @autoclosure () -> String, expected: String) -> String? {
        guard case .scalar(let s, _) = node.content else {
            fail(node.mark, path(), "expected \(expected), found \(node.kindDescription)")
            return nil
        }
        return s
    }

    mutating func string(_ node: YAMLNode, _ path: @autoclosure () -> String) -> String? {
        scalarText(node, path(), expected: "a text value")
    }

    /// YAML 1.1 spellings, any case: true/false, yes/no, on/off.
    static func parseBool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "true", "yes", "on": true
        case "false", "no", "off": false
        default: nil
        }
    }

    mutating func bool(_ node: YAMLNode, _ path: @autoclosure () -> String) -> Bool? {
        guard let s = scalarText(node, path(), expected: "true or false") else { return nil }
        guard let b = Self.parseBool(s) else {
            fail(node.mark, path(), "expected a boolean (true/false, yes/no, on/off), found \(node.kindDescription)")
            return nil
        }
        return b
    }

    mutating func bool(_ f: Fields, _ key: String) -> Bool? {
        f[key].flatMap { bool($0, f.path(key)) }
    }

    enum IntegerProblem: Error { case notDecimal, outOfRange }

    /// Plain decimal only: no sign but '-', no leading zeros (YAML 1.1 would read 010 as octal),
    /// no 0x, no underscores, no exponent.
    static func parseInteger(_ s: String, in range: ClosedRange<Int>) -> Result<Int, IntegerProblem> {
        let digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              !(digits.count > 1 && digits.first == "0") else { return .failure(.notDecimal) }
        guard let v = Int(s), range.contains(v) else { return .failure(.outOfRange) }
        return .success(v)
    }

    mutating func integer(_ node: YAMLNode, _ path: @autoclosure () -> String, in range: ClosedRange<Int>) -> Int? {
        guard let s = scalarText(node, path(), expected: "a decimal integer") else { return nil }
        return integer(s, at: node.mark, path(), in: range)
    }

    private mutating func integer(_ s: String, at mark: YAMLNode.Mark, _ path: @autoclosure () -> String, in range: ClosedRange<Int>) -> Int? {
        switch Self.parseInteger(s, in: range) {
        case .success(let v):
            return v
        case .failure(.notDecimal):
            fail(mark, path(), "expected a decimal integer, found '\(s)'")
        case .failure(.outOfRange):
            fail(mark, path(), "\(s) is out of range \(range.lowerBound)..\(range.upperBound)")
        }
        return nil
    }

    mutating func integer(_ f: Fields, _ key: String, in range: ClosedRange<Int>) -> Int? {
        f[key].flatMap { integer($0, f.path(key), in: range) }
    }

    mutating func port(_ f: Fields, _ key: String) -> UInt16? {
        integer(f, key, in: 1...65535).map { UInt16(clamping: $0) }
    }

    /// `address6:` an IPv6 address (global or unique local), `auto`, or `off` (also false/no).
    mutating func address6(_ node: YAMLNode, _ path: @autoclosure () -> String) -> IPv6Listening? {
        parsed(node, path(), expected: "an IPv6 address, auto or off", { s -> IPv6Listening? in
            switch s.lowercased() {
            case "auto": return .auto
            case "off", "false", "no", "none": return .off
            default:
                guard let a = IPv6Address(s), !a.isLinkLocal, !a.isMulticast, a.bytes.contains(where: { $0 != 0 }) else { return nil }
                return .address(a)
            }
        }) { s in
            IPv6Address(s).map { $0.isLinkLocal ? "'\(s)' is link-local: give a global or unique local address (or auto)" : "'\(s)' cannot be served on" }
                ?? "'\(s)' is not an IPv6 address (or auto, off)"
        }
    }

    mutating func ipv4(_ node: YAMLNode, _ path: @autoclosure () -> String) -> IPv4Address? {
        parsed(node, path(), expected: "an IPv4 address", IPv4Address.init) { "'\($0)' is not a valid IPv4 address" }
    }

    /// A scalar that `parse` must accept; `invalid` says why not, from the text.
    mutating func parsed<T>(_ node: YAMLNode, _ path: @autoclosure () -> String, expected: String,
                            _ parse: (String) -> T?, invalid: (String) -> String) -> T? {
        guard let s = scalarText(node, path(), expected: expected) else { return nil }
        guard let value = parse(s) else {
            fail(node.mark, path(), invalid(s))
            return nil
        }
        return value
    }

    /// One address or a list of them.
    mutating func ipv4List(_ node: YAMLNode, _ path: @autoclosure () -> String) -> [IPv4Address] {
        switch node.content {
        case .scalar: return ipv4(node, path()).map { [$0] } ?? []
        case .sequence(let items): return items.enumerated().compactMap { ipv4($1, "\(path())[\($0)]") }
        case .mapping:
            fail(node.mark, path(), "expected an IPv4 address or a list of them, found a mapping")
            return []
        }
    }

    mutating func network(_ node: YAMLNode, _ path: @autoclosure () -> String) -> IPv4Network? {
        guard let s = scalarText(node, path(), expected: "a subnet like 10.0.0.0/24") else { return nil }
        if let n = IPv4Network(s) { return n }
        // Host bits set is the common slip; name the network that was probably meant.
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, let a = IPv4Address(parts[0]), case .success(let p) = Self.parseInteger(String(parts[1]), in: 0...32) {
            let meant = IPv4Network(network: a, prefixLength: p)
            fail(node.mark, path(), "'\(s)' has host bits set (did you mean \(meant)?)")
        } else {
            fail(node.mark, path(), "'\(s)' is not a valid subnet (expected CIDR like 10.0.0.0/24)")
        }
        return nil
    }

    mutating func macAddress(_ node: YAMLNode, _ path: @autoclosure () -> String) -> MACAddress? {
        parsed(node, path(), expected: "a MAC address", MACAddress.init) {
            "'\($0)' is not a valid MAC address (expected six hex pairs like 52:54:00:12:34:56)"
        }
    }

    /// `START-END`, spaces around the dash allowed.
    mutating func addressRange(_ node: YAMLNode, _ path: @autoclosure () -> String) -> AddressRange? {
        guard let text = scalarText(node, path(), expected: Self.rangeExample) else { return nil }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            fail(node.mark, path(), "expected \(Self.rangeExample), found '\(text)'")
            return nil
        }
        let startText = parts[0].trimmingSpaces, endText = parts[1].trimmingSpaces
        let startMark = Self.mark(in: node, atOffset: Self.leadingSpaces(parts[0]))
        let endMark = Self.mark(in: node, atOffset: parts[0].unicodeScalars.count + 1 + Self.leadingSpaces(parts[1]))
        let start = IPv4Address(startText), end = IPv4Address(endText)
        if start == nil { fail(startMark, path(), "'\(startText)' is not a valid IPv4 address") }
        if end == nil { fail(endMark, path(), "'\(endText)' is not a valid IPv4 address") }
        guard let start, let end else { return nil }
        return AddressRange(start: start, end: end, mark: node.mark, startMark: startMark, endMark: endMark)
    }

    /// `LOW-HIGH` or `LOW:HIGH`.
    mutating func portRange(_ node: YAMLNode, _ path: @autoclosure () -> String) -> ClosedRange<UInt16>? {
        let example = "a port range like 50000-50100"
        guard let text = scalarText(node, path(), expected: example) else { return nil }
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "-" || $0 == ":" })
        guard parts.count == 2 else {
            fail(node.mark, path(), "expected \(example), found '\(text)'")
            return nil
        }
        let lowMark = Self.mark(in: node, atOffset: Self.leadingSpaces(parts[0]))
        let highMark = Self.mark(in: node, atOffset: parts[0].unicodeScalars.count + 1 + Self.leadingSpaces(parts[1]))
        let low = integer(parts[0].trimmingSpaces, at: lowMark, path(), in: 1...65535)
        let high = integer(parts[1].trimmingSpaces, at: highMark, path(), in: 1...65535)
        guard let low, let high else { return nil }
        guard low <= high else {
            fail(node.mark, path(), "low port \(low) is greater than high port \(high)")
            return nil
        }
        return UInt16(clamping: low)...UInt16(clamping: high)
    }

    /// A boot file name or URL handed to clients.
    mutating func bootFile(_ f: Fields, _ key: String) -> String? {
        guard let n = f.pair(key)?.value else { return nil }
        // An explicitly empty name ("") is a mistake; `key:` with nothing after it just means unset.
        if n.isNull { return nil }
        guard let s = string(n, f.path(key)) else { return nil }
        if let problem = Rules.bootFileProblem(s) {
            fail(n.mark, f.path(key), problem)
            return nil
        }
        return s
    }

    /// Position `offset` characters into a scalar, when the text maps 1:1 onto the source;
    /// otherwise (escapes, folded lines) the start of the scalar.
    static func mark(in node: YAMLNode, atOffset offset: Int) -> YAMLNode.Mark {
        guard case .scalar(let s, let style) = node.content, !s.contains("\n") else { return node.mark }
        switch style {
        case .plain:
            return .init(line: node.mark.line, column: node.mark.column + offset)
        case .singleQuoted where !s.contains("'"), .doubleQuoted where !s.contains("\\") && !s.contains("\""):
            return .init(line: node.mark.line, column: node.mark.column + 1 + offset)
        default:
            return node.mark
        }
    }

    static func leadingSpaces(_ s: Substring) -> Int { s.prefix(while: { $0 == " " }).count }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
