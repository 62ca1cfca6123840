import Foundation
import Testing
@testable import PXEConfig

@Suite struct YAMLParserTests {
    typealias Mark = YAMLNode.Mark

    func pairs(_ node: YAMLNode?) -> [YAMLNode.Pair] {
        if case .mapping(let p)? = node?.content { return p }
        return []
    }

    @Test func marksAreOneBasedAndPointAtEachNode() throws {
        let root = try YAMLParser.parse(text: "a: 1\nb:\n  c: x\n  d: [1, 'two']\n", filename: "t.yaml")
        #expect(root.mark == Mark(line: 1, column: 1))
        let top = pairs(root)
        #expect(top.map { $0.key.scalarValue } == ["a", "b"])
        #expect(top[0].value.mark == Mark(line: 1, column: 4))
        #expect(top[1].key.mark == Mark(line: 2, column: 1))
        let b = top[1].value
        #expect(b.mark == Mark(line: 3, column: 3))
        #expect(b["c"]?.mark == Mark(line: 3, column: 6))
        let d = try #require(b["d"])
        #expect(d.mark == Mark(line: 4, column: 6))
        guard case .sequence(let items) = d.content else { Issue.record("d is not a sequence"); return }
        #expect(items[1] == .scalar("two", .singleQuoted, at: Mark(line: 4, column: 10)))
    }

    @Test func scalarStylesAndNull() throws {
        let root = try YAMLParser.parse(text: "a:\nb: ''\nc: ~\nd: !!str ~\ne: |\n  text\n", filename: "t.yaml")
        #expect(root["a"]?.isNull == true)
        #expect(root["b"]?.isNull == false)
        #expect(root["b"]?.content == .scalar("", .singleQuoted))
        #expect(root["c"]?.isNull == true)
        #expect(root["d"]?.isNull == false)
        #expect(root["e"]?.content == .scalar("text\n", .literal))
    }

    @Test func aliasesAreResolved() throws {
        let root = try YAMLParser.parse(text: "base: &b {x: 1}\ncopy: *b\nlist: [&s one, *s]\n", filename: "t.yaml")
        #expect(root["copy"] == root["base"])
        #expect(root["copy"]?["x"]?.scalarValue == "1")
        guard case .sequence(let items)? = root["list"]?.content else { Issue.record("no list"); return }
        #expect(items.map(\.scalarValue) == ["one", "one"])
    }

    @Test func mergeKeysApplyAndExplicitKeysWin() throws {
        let root = try YAMLParser.parse(text: "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", filename: "t.yaml")
        let m = pairs(root["m"])
        #expect(m.map { $0.key.scalarValue } == ["x", "y"])
        #expect(root["m"]?["x"]?.scalarValue == "1")
        #expect(root["m"]?["y"]?.scalarValue == "3")
    }

    @Test func unknownAliasIsReported() {
        #expect(messages("a: *nope\n") == ["t.yaml:1:4: a: unknown alias '*nope' (an anchor must be defined before it is used)"])
    }

    @Test func duplicateKeyIsReportedAtTheSecondKey() {
        #expect(throws: ConfigErrors(errors: [
            ConfigError(file: "t.yaml", line: 4, column: 3, path: "b", message: "duplicate key 'c' (first defined at line 3)"),
        ])) { try YAMLParser.parse(text: "a: 1\nb:\n  c: 1\n  c: 2\n", filename: "t.yaml") }
        // Merged keys may be overridden without complaint; explicit ones may not.
        #expect(throws: Never.self) { try YAMLParser.parse(text: "x: &x {a: 1}\ny:\n  <<: *x\n  a: 2\n", filename: "t.yaml") }
    }

    @Test func duplicateKeysDoNotHideOtherErrors() {
        let found = messages("log-level: info\nlog-level: debug\ntftp:\n  port: 0\n")
        #expect(found == [
            "t.yaml:2:1: duplicate key 'log-level' (first defined at line 1)",
            "t.yaml:4:9: tftp.port: 0 is out of range 1..65535",
        ])
    }

    @Test func tabsInIndentationAreReported() {
        #expect(messages("a:\n\tb: 1\n") == ["t.yaml:2:1: tab character in indentation (YAML allows only spaces)"])
        #expect(messages("tftp:\n  \tport: 69\n") == ["t.yaml:2:3: tab character in indentation (YAML allows only spaces)"])
    }

    @Test func tabsBeforeACommentAreReportedToo() {
        // libyaml rejects these as well, with a far less helpful message.
        #expect(messages("a: 1\n\t# comment\n") == ["t.yaml:2:1: tab character in indentation (YAML allows only spaces)"])
    }

    @Test func tabsOutsideIndentationAreFine() throws {
        let root = try YAMLParser.parse(text: "a: 1\t# comment\nb: \"x\ty\"\nc: \"one\n\ttwo\"\n", filename: "t.yaml")
        #expect(root["b"]?.scalarValue == "x\ty")
        #expect(root["c"]?.scalarValue == "one two")
    }

    @Test func syntaxErrorHasLibyamlPosition() {
        #expect(messages("a: [1, 2\nb: c\n") == [
            "t.yaml:2:2: syntax error: did not find expected ',' or ']' (while parsing a flow sequence that started at line 1, column 4)",
        ])
        #expect(messages("a: b: c\n") == ["t.yaml:1:5: syntax error: mapping values are not allowed in this context"])
    }

    @Test func multipleDocumentsAreRejected() {
        #expect(messages("log-level: info\n---\nlog-level: debug\n") == ["t.yaml:2:1: only one YAML document is allowed per file"])
    }

    @Test(arguments: ["", "# nothing but a comment\n", "---\n", "\n\n"])
    func emptyInputIsAnEmptyMapping(text: String) throws {
        let root = try YAMLParser.parse(text: text, filename: "t.yaml")
        #expect(root.content == .mapping([]))
    }

    @Test func aliasExpansionIsBounded() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let found = errors(text)
        #expect(found.count == 1)
        #expect(found.first?.message == "too many nodes after expanding aliases (limit 1000000)")
    }

    @Test func deepNestingIsRejectedWithoutCrashing() {
        let found = errors(String(repeating: "[", count: 5000))
        #expect(found.count == 1)
        #expect(found.first?.message == "nested deeper than 200 levels")
        #expect(found.first?.line == 1)
        #expect(found.first?.column == 201)
    }

    @Test func publicParseThrowsAllYAMLErrors() {
        #expect(throws: ConfigErrors.self) { try YAMLParser.parse(text: "a: 1\na: 2\n", filename: "x.yaml") }
        do {
            _ = try YAMLParser.parse(text: "a: 1\na: 2\nb:\n\t- 1\n", filename: "x.yaml")
        } catch {
            #expect(error.errors.map(\.line) == [2, 4])
        }
    }

    @Test func invalidUTF8FileIsReportedWithPosition() throws {
        let dir = try Scratch.makeDirectory()
        let path = dir + "/bad.yaml"
        try Data([0x61, 0x3A, 0x20, 0x31, 0x0A, 0x62, 0x3A, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
        #expect(throws: ConfigErrors(errors: [ConfigError(file: path, line: 2, column: 3, path: "", message: "file is not valid UTF-8")])) {
            try PXEConfig.load(path: path)
        }
    }

    @Test func missingFileIsOneError() {
        do {
            _ = try PXEConfig.load(path: "/nonexistent/pxed.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.description == "/nonexistent/pxed.yaml: cannot open: no such file")
        }
    }

    @Test func controlCharactersAreASyntaxError() {
        let found = errors("a: 1\nb: x\u{7}y\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 2)
        #expect(found.first?.message.hasPrefix("syntax error: control characters are not allowed") == true)
    }
}
