import Foundation
import Testing
@testable import PXEConfig

/// Scratch files shared by the tests: an existing directory (for TFTP roots) and a plain file.
enum Scratch {
    static let directory: String = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pxed-config-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(at: url.appendingPathComponent("lab"), withIntermediateDirectories: true)
        try? Data("not a directory\n".utf8).write(to: url.appendingPathComponent("file.txt"))
        return url.path
    }()

    static var plainFile: String { directory + "/file.txt" }

    /// A fresh directory for tests that write their own files.
    static func makeDirectory() throws -> String {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}

/// Repository root, found from this file's location.
let repositoryRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// All problems reported for `yaml`, or [] when it loads.
func errors(_ yaml: String, file: String = "t.yaml") -> [ConfigError] {
    do {
        _ = try PXEConfig.parse(text: yaml, filename: file)
        return []
    } catch {
        return error.errors
    }
}

/// The problems as printed, `file:line:col: path: message`.
func messages(_ yaml: String, file: String = "t.yaml") -> [String] { errors(yaml, file: file).map(\.description) }

/// Parses `yaml`, recording every problem as a test failure.
func load(_ yaml: String, file: String = "t.yaml", sourceLocation: SourceLocation = #_sourceLocation) -> PXEConfiguration? {
    do {
        return try PXEConfig.parse(text: yaml, filename: file)
    } catch {
        Issue.record("unexpected errors:\n\(error)", sourceLocation: sourceLocation)
        return nil
    }
}
