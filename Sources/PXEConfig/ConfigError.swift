// Errors found while reading or validating a configuration file, each pinned to a place in the file.

/// One problem in a configuration file.
///
/// `line` and `column` are 1-based. A problem with the file as a whole (it cannot be opened, say)
/// has line 0 and column 0 and prints as `file: message`.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var line: Int
    public var column: Int
    /// Dotted path of the offending setting, e.g. `interfaces.eth1.dhcp.range` or `hosts[2].ip`;
    /// empty when the problem is not tied to one setting (syntax errors, the top level).
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        let place = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(place): \(message)" : "\(place): \(path): \(message)"
    }
}

/// Every problem found in one file; loading never stops at the first one.
public struct ConfigErrors: Error, CustomStringConvertible, Equatable, Sendable {
    public var errors: [ConfigError]

    public init(errors: [ConfigError]) { self.errors = errors }

    /// One error per line, in file order.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

extension Array where Element == ConfigError {
    /// File order; the sort is stable so problems at one spot keep the order they were found in.
    func sortedByPosition() -> [ConfigError] {
        enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}
