// A YAML document as a plain Sendable tree. Every node remembers where it started so that the typed
// layer can point at the exact spot of a bad value. Aliases are already expanded (an expanded node
// keeps the position of its anchor, which is where the text actually is).

public struct YAMLNode: Sendable, Equatable {
    /// A 1-based position in the source text; columns count characters, not bytes.
    public struct Mark: Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var column: Int

        public init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }

        public var description: String { "\(line):\(column)" }
    }

    public enum ScalarStyle: Sendable, Equatable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    public struct Pair: Sendable, Equatable {
        public var key: YAMLNode
        public var value: YAMLNode

        public init(key: YAMLNode, value: YAMLNode) {
            self.key = key
            self.value = value
        }
    }

    public enum Content: Sendable, Equatable {
        case scalar(String, ScalarStyle)
        case sequence([YAMLNode])
        /// Pairs in file order; keys are unique (the parser reports duplicates).
        case mapping([Pair])
    }

    public var content: Content
    public var mark: Mark
    /// Explicit tag in its resolved form (`tag:yaml.org,2002:str` for `!!str`), nil when untagged.
    public var tag: String?

    public init(_ content: Content, mark: Mark, tag: String? = nil) {
        self.content = content
        self.mark = mark
        self.tag = tag
    }

    public static func scalar(_ value: String, _ style: ScalarStyle = .plain, at mark: Mark) -> YAMLNode {
        YAMLNode(.scalar(value, style), mark: mark)
    }

    /// The text of a scalar node, nil for collections.
    public var scalarValue: String? {
        if case .scalar(let s, _) = content { return s }
        return nil
    }

    /// `key:` with nothing after it, `~` or `null`: YAML's null. Quoted or `!!str` text never is.
    public var isNull: Bool {
        guard case .scalar(let s, .plain) = content, tag == nil || tag == YAMLNode.nullTag else { return false }
        return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL"
    }

    /// The value for a scalar key in a mapping (nil if absent or if this is not a mapping).
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs) = content else { return nil }
        return pairs.first { $0.key.scalarValue == key }?.value
    }

    /// Phrase for messages such as "expected a mapping, found a list".
    var kindDescription: String {
        switch content {
        case .scalar(let s, _):
            if isNull { return "an empty value" }
            let shown = s.count > 40 ? String(s.prefix(40)) + "..." : s
            return "'\(shown)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    static let nullTag = "tag:yaml.org,2002:null"
    static let strTag = "tag:yaml.org,2002:str"
}
