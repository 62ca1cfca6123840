import Testing
@testable import PXEConfig

@Suite struct RulesTests {
    @Test(arguments: ["node01", "a", "lab.internal", "x-1.y-2", "A1", String(repeating: "a", count: 63)])
    func validHostnames(_ name: String) { #expect(Rules.isDNSName(name)) }

    @Test(arguments: ["", "-a", "a-", "a..b", ".a", "a.", "a_b", "ä", "a b", String(repeating: "a", count: 64),
                      String(repeating: "a.", count: 127) + "ab"])
    func invalidHostnames(_ name: String) { #expect(!Rules.isDNSName(name)) }

    @Test(arguments: [("10.0.0.1", true), ("0.0.0.0", true), ("255.255.255.255", true), ("256.0.0.1", false),
                      ("01.0.0.1", false), ("1.2.3", false), ("1.2.3.4.5", false), ("1..2.3", false), ("a.b.c.d", false),
                      ("1.2.3.4 ", false), ("", false), ("1234.1.1.1", false)])
    func ipv4(_ text: String, _ valid: Bool) { #expect((IPv4Address(text) != nil) == valid) }

    @Test(arguments: [("52:54:00:AB:cd:01", true), ("52-54-00-ab-cd-01", true), ("52:54:00:ab:cd", false),
                      ("52:54:00:ab:cd:01:02", false), ("5:54:00:ab:cd:01", false), ("+2:54:00:ab:cd:01", false),
                      ("52:54:00:ab:cd:0g", false), ("525400abcd01", false)])
    func mac(_ text: String, _ valid: Bool) { #expect((MACAddress(text) != nil) == valid) }
}

/// Regression tests for inputs the fuzzer found.
@Suite struct FuzzRegressionTests {
    @Test func loneCarriageReturnsAreRefusedWithAnEditorPosition() {
        // libyaml counts a lone CR as a line break; line numbers would then point past the file.
        let text = "# a\r\r\rcomment\nlog-level: info\n"
        #expect(throws: ConfigErrors(errors: [ConfigError(file: "f.yaml", line: 1, column: 4, path: "",
            message: "carriage return without a line feed: save the file with Unix (LF) or DOS (CR LF) line ends")])) {
            try PXEConfig.parse(text: text, filename: "f.yaml")
        }
        #expect(throws: ConfigErrors.self) { try PXEConfig.parse(text: "a: 1\u{2028}b: 2\n", filename: "f.yaml") }
    }

    @Test func dosLineEndsAreFine() throws {
        let c = try PXEConfig.parse(text: "log-level: debug\r\nlease-file: /tmp/x\r\n", filename: "/tmp/f.yaml")
        #expect(c.logLevel == .debug)
    }
}
