// YAML text -> YAMLNode tree, through libyaml's event API.
//
// libyaml's structs are not Sendable, so everything C-side stays inside one call; only the finished
// Sendable tree and the errors leave it. libyaml itself accepts duplicate keys, undefined aliases and
// several documents, so those checks (and the tab check, done on the raw text) live here.

import CYAML

public enum YAMLParser {
    /// Deeper nesting is rejected: later stages walk the tree recursively.
    static let maxDepth = 200
    /// Cap on nodes after alias expansion, so a "billion laughs" file cannot exhaust memory.
    static let maxNodes = 1_000_000

    /// Parses one YAML document. An empty file (or one with only comments) is an empty mapping.
    public static func parse(text: String, filename: String) throws(ConfigErrors) -> YAMLNode {
        let result = parseCollecting(text: text, filename: filename)
        guard result.errors.isEmpty, let root = result.root else {
            throw ConfigErrors(errors: result.errors.sortedByPosition())
        }
        return root
    }

    /// Like `parse`, but returns the tree even when it has non-fatal problems (duplicate keys, tabs),
    /// so the typed layer can report its own errors in the same run. `root` is nil when no usable
    /// tree exists (syntax error, undefined alias, limits exceeded).
    static func parseCollecting(text: String, filename: String) -> (root: YAMLNode?, errors: [ConfigError]) {
        var builder = TreeBuilder(file: filename)
        var continuationLines: Set<Int> = []
        let bytes = Array(text.utf8)
        let syntaxError = bytes.isEmpty ? nil : runEvents(bytes, into: &builder, continuationLines: &continuationLines)
        let tabs = tabIndentationErrors(in: text, file: filename, skipping: continuationLines)

        var errors = builder.errors
        if let syntaxError {
            // A tab at or before the syntax error is almost always its cause; libyaml's own words
            // ("found character that cannot start any token") would only confuse.
            let causedByTab = tabs.first.map { $0.line <= syntaxError.line } ?? false
            if !causedByTab { errors.append(syntaxError) }
            return (nil, errors + tabs)
        }
        errors += tabs
        guard builder.treeUsable else { return (nil, errors) }
        guard let root = builder.root, !root.isNull else {
            return (YAMLNode(.mapping([]), mark: builder.root?.mark ?? .init(line: 1, column: 1)), errors)
        }
        return (root, errors)
    }

    // MARK: - libyaml event loop

    /// Feeds libyaml's events to the builder; returns libyaml's own error, if any.
    private static func runEvents(_ bytes: [UInt8], into b: inout TreeBuilder,
                                  continuationLines: inout Set<Int>) -> ConfigError? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return ConfigError(file: b.file, line: 0, column: 0, path: "", message: "out of memory")
        }
        defer { yaml_parser_delete(&parser) }

        // The buffer must outlive the whole parse, so the loop runs inside the closure.
        return bytes.withUnsafeBufferPointer { buf -> ConfigError? in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            var documents = 0
            while true {
                var ev = yaml_event_t()
                guard yaml_parser_parse(&parser, &ev) == 1 else {
                    return syntaxError(parser, bytes: bytes, file: b.file)
                }
                defer { yaml_event_delete(&ev) }
                let mark = YAMLNode.Mark(ev.start_mark)

                switch ev.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 {
                        b.error(at: mark, path: "", "only one YAML document is allowed per file")
                        return nil
                    }
                case YAML_SCALAR_EVENT:
                    let s = ev.data.scalar
                    let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                    if ev.end_mark.line > ev.start_mark.line {
                        // Continuation lines may legally start with tabs; the tab check skips them.
                        continuationLines.formUnion((mark.line + 1)...(Int(ev.end_mark.line) + 1))
                    }
                    b.scalar(value, style: YAMLNode.ScalarStyle(s.style), tag: string(s.tag), anchor: string(s.anchor), at: mark)
                case YAML_ALIAS_EVENT:
                    guard b.alias(string(ev.data.alias.anchor) ?? "", at: mark) else { return nil }
                case YAML_SEQUENCE_START_EVENT:
                    let s = ev.data.sequence_start
                    guard b.start(mapping: false, tag: string(s.tag), anchor: string(s.anchor), at: mark) else { return nil }
                case YAML_MAPPING_START_EVENT:
                    let s = ev.data.mapping_start
                    guard b.start(mapping: true, tag: string(s.tag), anchor: string(s.anchor), at: mark) else { return nil }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    b.end()
                default:
                    break  // stream start and document end carry nothing we need
                }
            }
        }
    }

    private static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: $0) }
    }

    /// Syntax errors carry no setting path: once libyaml is lost, the path would be a guess.
    private static func syntaxError(_ p: yaml_parser_t, bytes: [UInt8], file: String) -> ConfigError {
        let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
        switch p.error {
        case YAML_MEMORY_ERROR:
            return ConfigError(file: file, line: 0, column: 0, path: "", message: "out of memory")
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset instead of a mark.
            let mark = markForOffset(Int(p.problem_offset), in: bytes)
            return ConfigError(file: file, line: mark.line, column: mark.column, path: "",
                               message: "syntax error: \(problem)")
        default:
            let mark = YAMLNode.Mark(p.problem_mark)
            var message = "syntax error: \(problem)"
            if let context = p.context.map({ String(cString: $0) }) {
                let cm = YAMLNode.Mark(p.context_mark)
                message += " (\(context) that started at line \(cm.line), column \(cm.column))"
            }
            return ConfigError(file: file, line: mark.line, column: mark.column, path: "", message: message)
        }
    }

    private static func markForOffset(_ offset: Int, in bytes: [UInt8]) -> YAMLNode.Mark {
        var line = 1, column = 1
        for b in bytes.prefix(max(0, offset)) {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return .init(line: line, column: column)
    }

    // MARK: - Tabs

    /// YAML forbids tabs in indentation, and libyaml's complaint about them is cryptic, so look at
    /// the raw text: a tab among the leading blanks of any line (libyaml rejects a tab even before
    /// a comment there), except continuation lines of multi-line scalars.
    static func tabIndentationErrors(in text: String, file: String, skipping: Set<Int>) -> [ConfigError] {
        // A byte scan: this runs on every load and reload, and large host lists are common.
        var errors: [ConfigError] = []
        var text = text
        text.withUTF8 { bytes in
            var lineNumber = 1
            var atIndent = true
            var column = 1
            for b in bytes {
                if b == UInt8(ascii: "\n") {
                    lineNumber += 1
                    atIndent = true
                    column = 1
                    continue
                }
                guard atIndent else { continue }
                if b == UInt8(ascii: " ") {
                    column += 1
                } else {
                    if b == UInt8(ascii: "\t") && !skipping.contains(lineNumber) {
                        errors.append(ConfigError(file: file, line: lineNumber, column: column, path: "",
                                                  message: "tab character in indentation (YAML allows only spaces)"))
                    }
                    atIndent = false
                }
            }
        }
        return errors
    }
}

// MARK: - Tree builder

/// Turns the flat event stream into a tree with an explicit stack (no recursion on input depth).
private struct TreeBuilder {
    struct Frame {
        let isMapping: Bool
        let mark: YAMLNode.Mark
        let tag: String?
        let anchor: String?
        /// `nodeCount` when the collection started, to size it for alias expansion.
        let nodesBefore: Int
        /// A sequence's items.
        var items: [YAMLNode] = []
        /// A mapping's pairs, built as each value arrives: no second pass over a flat list.
        var pairs: [YAMLNode.Pair] = []
        /// A mapping's key waiting for its value.
        var pendingKey: YAMLNode? = nil
        /// The pending key repeats an earlier one: its value is dropped (the first one wins).
        var pendingKeyIsDuplicate = false
        /// A `<<` merge key was seen; applied when the mapping ends.
        var hasMerge = false
        /// Mapping keys by name, built only once a mapping grows past `linearKeyLimit` keys:
        /// most mappings hold a handful, and a hash table for each of 10,000 host entries would
        /// dominate the parse of a large file.
        var keyIndex: [String: YAMLNode.Mark]? = nil

        static let linearKeyLimit = 32

        /// Where an earlier key of this name is.
        func firstMark(ofKey name: String) -> YAMLNode.Mark? {
            if let keyIndex { return keyIndex[name] }
            for p in pairs where p.key.scalarValue == name && !TreeBuilder.isMergeKey(p.key) { return p.key.mark }
            return nil
        }

        mutating func indexKey(_ name: String, at mark: YAMLNode.Mark) {
            if keyIndex != nil {
                keyIndex![name] = mark
            } else if pairs.count >= Frame.linearKeyLimit {
                var index: [String: YAMLNode.Mark] = [name: mark]
                for p in pairs where !TreeBuilder.isMergeKey(p.key) {
                    if let key = p.key.scalarValue, index[key] == nil { index[key] = p.key.mark }
                }
                keyIndex = index
            }
        }
    }

    let file: String
    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var nodeCount = 0
    var root: YAMLNode? = nil
    var errors: [ConfigError] = []
    var treeUsable = true

    init(file: String) { self.file = file }

    /// Path of the node being built, e.g. `interfaces.eth1.dhcp` or `hosts[3]`.
    var path: String {
        var out = ""
        for frame in stack {
            if frame.isMapping {
                if let key = frame.pendingKey?.scalarValue {
                    out += out.isEmpty ? key : "." + key
                }
            } else {
                out += "[\(frame.items.count)]"
            }
        }
        return out
    }

    mutating func error(at mark: YAMLNode.Mark, path: String, _ message: String) {
        errors.append(ConfigError(file: file, line: mark.line, column: mark.column, path: path, message: message))
    }

    private mutating func attach(_ node: YAMLNode, anchor: String?, size: Int) {
        if let anchor { anchors[anchor] = (node, size) }
        guard let top = stack.indices.last else {
            if root == nil { root = node }
            return
        }
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        if let key = stack[top].pendingKey {
            // A value: pair it with its key, unless the key was a duplicate.
            stack[top].pendingKey = nil
            if stack[top].pendingKeyIsDuplicate {
                stack[top].pendingKeyIsDuplicate = false
            } else {
                stack[top].pairs.append(YAMLNode.Pair(key: key, value: node))
            }
            return
        }
        // A key. Checked as it arrives, so a later syntax error does not hide a duplicate before it.
        if Self.isMergeKey(node) {
            stack[top].hasMerge = true
        } else if let name = node.scalarValue {
            if let first = stack[top].firstMark(ofKey: name) {
                error(at: node.mark, path: path, "duplicate key '\(name)' (first defined at line \(first.line))")
                stack[top].pendingKeyIsDuplicate = true
            } else {
                stack[top].indexKey(name, at: node.mark)
            }
        }
        stack[top].pendingKey = node
    }

    static func isMergeKey(_ node: YAMLNode) -> Bool {
        guard case .scalar("<<", .plain) = node.content else { return false }
        return node.tag == nil || node.tag == "tag:yaml.org,2002:merge"
    }

    mutating func scalar(_ value: String, style: YAMLNode.ScalarStyle, tag: String?, anchor: String?, at mark: YAMLNode.Mark) {
        nodeCount += 1
        attach(YAMLNode(.scalar(value, style), mark: mark, tag: tag), anchor: anchor, size: 1)
    }

    /// Returns false when parsing should stop.
    mutating func alias(_ name: String, at mark: YAMLNode.Mark) -> Bool {
        guard let target = anchors[name] else {
            error(at: mark, path: path, "unknown alias '*\(name)' (an anchor must be defined before it is used)")
            treeUsable = false
            attach(.scalar("", at: mark), anchor: nil, size: 1)  // keep the shape so later errors still make sense
            return true
        }
        nodeCount += target.size
        guard nodeCount <= YAMLParser.maxNodes else {
            error(at: mark, path: path, "too many nodes after expanding aliases (limit \(YAMLParser.maxNodes))")
            treeUsable = false
            return false
        }
        attach(target.node, anchor: nil, size: target.size)
        return true
    }

    mutating func start(mapping: Bool, tag: String?, anchor: String?, at mark: YAMLNode.Mark) -> Bool {
        guard stack.count < YAMLParser.maxDepth else {
            error(at: mark, path: path, "nested deeper than \(YAMLParser.maxDepth) levels")
            treeUsable = false
            return false
        }
        nodeCount += 1
        var frame = Frame(isMapping: mapping, mark: mark, tag: tag, anchor: anchor, nodesBefore: nodeCount)
        // Room for a host entry's pairs up front: growing 1, 2, 4 costs three allocations.
        if mapping { frame.pairs.reserveCapacity(4) }
        stack.append(frame)
        return true
    }

    mutating func end() {
        guard let frame = stack.popLast() else { return }
        let size = nodeCount - frame.nodesBefore + 1
        let content: YAMLNode.Content
        if frame.isMapping {
            content = .mapping(frame.hasMerge ? merged(frame) : frame.pairs)
        } else {
            content = .sequence(frame.items)
        }
        attach(YAMLNode(content, mark: frame.mark, tag: frame.tag), anchor: frame.anchor, size: size)
    }

    /// Pairs of a finished mapping with `<<` merge keys applied.
    private mutating func merged(_ frame: Frame) -> [YAMLNode.Pair] {
        var explicit: [YAMLNode.Pair] = []
        var merges: [(at: Int, sources: [YAMLNode])] = []
        for pair in frame.pairs {
            guard Self.isMergeKey(pair.key) else {
                explicit.append(pair)
                continue
            }
            switch pair.value.content {
            case .mapping:
                merges.append((explicit.count, [pair.value]))
            case .sequence(let items) where items.allSatisfy({ if case .mapping = $0.content { true } else { false } }):
                merges.append((explicit.count, items))
            default:
                // The frame is already popped, so `path` is the mapping's own.
                error(at: pair.value.mark, path: path, "'<<' (merge) needs a mapping or a list of mappings")
            }
        }
        guard !merges.isEmpty else { return explicit }

        // Explicit keys win over merged ones; among merged sources the earlier one wins.
        var taken = Set(explicit.compactMap { $0.key.scalarValue })
        var mergedAt: [Int: [YAMLNode.Pair]] = [:]
        for merge in merges {
            for source in merge.sources {
                guard case .mapping(let sourcePairs) = source.content else { continue }
                for pair in sourcePairs {
                    guard let name = pair.key.scalarValue, !taken.contains(name) else { continue }
                    taken.insert(name)
                    mergedAt[merge.at, default: []].append(pair)
                }
            }
        }
        var result: [YAMLNode.Pair] = []
        for index in 0...explicit.count {
            result += mergedAt[index] ?? []
            if index < explicit.count { result.append(explicit[index]) }
        }
        return result
    }
}

private extension YAMLNode.Mark {
    /// libyaml marks are 0-based.
    init(_ m: yaml_mark_t) {
        self.init(line: Int(m.line) + 1, column: Int(m.column) + 1)
    }
}

private extension YAMLNode.ScalarStyle {
    init(_ style: yaml_scalar_style_t) {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: self = .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: self = .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: self = .literal
        case YAML_FOLDED_SCALAR_STYLE: self = .folded
        default: self = .plain
        }
    }
}
