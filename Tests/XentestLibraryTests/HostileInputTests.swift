import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// Bytes that are not valid UTF-8, and where the first bad byte is.
struct InvalidText: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    /// `line:col: error: invalid UTF-8 (byte 0xNN)`.
    var expected: String
    var testDescription: String { name }
}

/// Input meant to crash, hang or balloon the loader: each must end quickly with an error diagnostic. The big and
/// deep files are generated here, at run time.
@Suite("Hostile input: no crash, no hang, no balloon") struct HostileInputTests {
    /// Loads `data` written as `plan.yaml`.
    func load(_ data: Data) throws -> LoadOutcome {
        let directory = try ScratchDirectory()
        let path = try directory.write(data, to: "plan.yaml")
        return LoadOutcome(path: path, stripping: directory.path)
    }

    func load(_ text: String) throws -> LoadOutcome { try load(Data(text.utf8)) }

    @Test(arguments: ["", "\n\n\n", "   \n", "# only a comment\n", "---\n", "---\n...\n"]) func emptyFileIsAnError(
        _ text: String
    ) throws {
        let outcome = try load(text)
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == ["plan.yaml: error: the plan is empty; it needs at least 'release', 'title' and 'cases'"]
        )
    }

    @Test func nulByteIsReportedWhereItIs() throws {
        let outcome = try load(Data("release: 4.3\0\ntitle: x\n".utf8))
        #expect(outcome.lines == ["plan.yaml:1:13: error: file contains a NUL byte: this is not a text file"])
    }

    @Test func binaryFileIsReported() throws {
        // An ELF header's first bytes, then every byte value.
        let bytes: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00] + (0...255).map { UInt8($0) }
        let outcome = try load(Data(bytes))
        #expect(outcome.plan == nil)
        #expect(outcome.lines == ["plan.yaml:1:8: error: file contains a NUL byte: this is not a text file"])
    }

    @Test func controlCharactersAreAYAMLError() throws {
        let outcome = try load(Data("release: 4.3\u{1}\ntitle: x\n".utf8))
        #expect(outcome.lines == ["plan.yaml:1:13: error: invalid YAML: control characters are not allowed (U+0001)"])
    }

    static let invalidTexts: [InvalidText] = [
        InvalidText(
            name: "a stray 0xFF",
            bytes: Array("title: ".utf8) + [0xFF],
            expected: "1:8: error: invalid UTF-8 (byte 0xFF)"
        ),
        InvalidText(
            name: "a sequence cut off at the end",
            bytes: Array("title: caf".utf8) + [0xC3],
            expected: "1:11: error: invalid UTF-8 (byte 0xC3)"
        ),
        InvalidText(
            name: "an overlong two-byte form",
            bytes: Array("title: ".utf8) + [0xC0, 0xAF],
            expected: "1:8: error: invalid UTF-8 (byte 0xC0)"
        ),
        InvalidText(
            name: "an overlong three-byte form",
            bytes: Array("title: ".utf8) + [0xE0, 0x80, 0xAF],
            expected: "1:8: error: invalid UTF-8 (byte 0xE0)"
        ),
        InvalidText(
            name: "a UTF-16 surrogate",
            bytes: Array("title: ".utf8) + [0xED, 0xA0, 0x80],
            expected: "1:8: error: invalid UTF-8 (byte 0xED)"
        ),
        InvalidText(
            name: "a code point past U+10FFFF",
            bytes: Array("title: ".utf8) + [0xF4, 0x90, 0x80, 0x80],
            expected: "1:8: error: invalid UTF-8 (byte 0xF4)"
        ),
        InvalidText(
            name: "a lone continuation byte after multi-byte characters",
            bytes: Array("title: café ✓ 𝄞\nx".utf8) + [0x80],
            expected: "2:2: error: invalid UTF-8 (byte 0x80)"
        ),
    ]

    @Test(arguments: invalidTexts) func invalidUTF8IsReportedAtTheFirstBadByte(_ example: InvalidText) throws {
        let outcome = try load(Data(example.bytes))
        #expect(outcome.plan == nil)
        #expect(outcome.lines == ["plan.yaml:\(example.expected): plans must be UTF-8 text"])
    }

    @Test func validUTF8IsAccepted() throws {
        let outcome = try load(
            """
            release: 4.3.0-rc6
            title: "Xen 4.3 — café ✓ 𝄞"
            cases:
              - id: one
                title: Ünïcode
                area: lifecycle
                steps:
                  - pci-assignable-list:
            """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        #expect(plan.title == "Xen 4.3 — café ✓ 𝄞")
    }

    @Test func truncatedYAMLIsASyntaxErrorWithItsLine() throws {
        let outcome = try load("release: 4.3.0-rc6\ntitle: Truncated\ncases:\n  - id: one\n    title: \"One")
        expectLines(outcome.lines, ["plan.yaml:5:*: error: invalid YAML: found unexpected end of stream*"])
    }

    /// Every prefix of a real plan file either loads or is reported; none crashes.
    @Test func everyTruncationOfARealPlanIsHandled() throws {
        let header = "release: 4.3.0-rc6\ntitle: Truncated\n"
        let guests = try String(contentsOfFile: Fixtures.realPlan("rc6/guests"), encoding: .utf8)
        let cases = try String(contentsOfFile: Fixtures.realPlan("rc6/cpu-hotplug"), encoding: .utf8)
        let whole = Array((header + guests + cases).utf8)
        var reported = 0
        for length in stride(from: 0, to: whole.count, by: 13) {
            let outcome = try load(Data(whole[0..<length]))
            if outcome.plan == nil {
                #expect(outcome.diagnostics.hasErrors, "prefix of \(length) bytes: no plan and no error")
                reported += 1
            }
        }
        #expect(reported > 0)
        #expect(try load(Data(whole)).plan != nil)
    }

    @Test func tenMegabyteFileIsRejectedBySize() throws {
        let directory = try ScratchDirectory()
        let line = Data(("# " + String(repeating: "x", count: 1021) + "\n").utf8)  // 1 KiB
        var data = Data(capacity: 10 * 1024 * 1024)
        for _ in 0..<(10 * 1024) { data.append(line) }
        let path = try directory.write(data, to: "plan.yaml")
        let outcome = LoadOutcome(path: path, stripping: directory.path)
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "plan.yaml: error: file is 10485760 bytes; plan and host files are limited to 2097152 bytes"
            ]
        )
        #expect { try HostConfig.load(path: path) } throws: { error in
            (error as? DiagnosticsError)?.diagnostics.map(\.message) == [
                "file is 10485760 bytes; plan and host files are limited to 2097152 bytes"
            ]
        }
    }

    @Test func deepFlowSequenceOnOneLine() throws {
        let depth = 20_000
        let outcome = try load(String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n")
        #expect(outcome.lines == ["plan.yaml:1:1: error: nesting is deeper than 64 levels"])
    }

    @Test func deepFlowMappingOnOneLine() throws {
        let depth = 20_000
        let outcome = try load(
            "cases: " + String(repeating: "{a: ", count: depth) + String(repeating: "}", count: depth)
        )
        #expect(outcome.lines == ["plan.yaml:1:1: error: nesting is deeper than 64 levels"])
    }

    @Test func deepFlowSequenceOverManyLines() throws {
        let outcome = try load(String(repeating: "[\n", count: 20_000) + String(repeating: "]\n", count: 20_000))
        #expect(outcome.lines == ["plan.yaml:65:1: error: nesting is deeper than 64 levels"])
    }

    @Test func deepBlockSequenceDashes() throws {
        let outcome = try load(String(repeating: "- ", count: 20_000) + "x\n")
        #expect(outcome.lines == ["plan.yaml:1:1: error: nesting is deeper than 64 levels"])
    }

    @Test func deepBlockSequenceDashesOnLaterLine() throws {
        let outcome = try load("release: 4.3.0-rc6\ncases:\n  " + String(repeating: "- ", count: 20_000) + "x\n")
        #expect(outcome.lines == ["plan.yaml:3:1: error: nesting is deeper than 64 levels"])
    }

    /// 20,000 levels of indentation would be hundreds of megabytes; 1,000 levels is 1 MB, under the size limit, so
    /// that the depth check is what refuses it.
    @Test func deepBlockIndentation() throws {
        var text = ""
        for level in 0..<1_000 { text += String(repeating: " ", count: 2 * level) + "k\(level):\n" }
        #expect(text.utf8.count < 2 * 1024 * 1024)
        let outcome = try load(text)
        // Line 66 is indented 130 spaces: 65 levels.
        #expect(outcome.lines == ["plan.yaml:66:1: error: nesting is deeper than 64 levels"])
    }

    @Test func deepIndentationOfSequencesInMappings() throws {
        var text = ""
        for level in 0..<1_000 { text += String(repeating: " ", count: 2 * level) + "- k\(level):\n" }
        let outcome = try load(text)
        #expect(outcome.lines.count == 1)
        #expect(outcome.lines.first?.hasSuffix("error: nesting is deeper than 64 levels") == true, "\(outcome.lines)")
    }

    /// Nine levels of ten aliases: a billion nodes if expanded.
    static func billionLaughs() -> String {
        var lines = ["  l0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]"]
        for level in 1...9 {
            lines.append(
                "  l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
                    + "]"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func aliasBombAsValues() throws {
        let outcome = try load(
            "release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "summary: *l9\ncases: *l9\n"
        )
        #expect(outcome.plan == nil)
        #expect(outcome.lines.contains("plan.yaml:4:7: error: guest 'l0' must be a mapping (key: value), not a list"))
        // Yams resolves an alias to the anchored node, so the problem is reported where `&l9` is.
        #expect(outcome.lines.contains("plan.yaml:13:7: error: summary must be a string, not a list"))
        #expect(outcome.lines.contains { $0.contains("error: a case must be a mapping (key: value), not a list") })
        #expect(outcome.lines.count < 50, "\(outcome.lines.count) diagnostics")
    }

    @Test func aliasBombAsMappingKey() throws {
        let outcome = try load("release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "*l9 : x\n")
        #expect(
            outcome.lines == ["plan.yaml:14:1: error: an alias (*name) cannot be a mapping key; keys are plain names"]
        )
    }

    @Test func aliasBombInsideAFlowMappingKey() throws {
        let outcome = try load("release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "x: {*l9: y}\n")
        #expect(
            outcome.lines == ["plan.yaml:14:5: error: an alias (*name) cannot be a mapping key; keys are plain names"]
        )
    }

    @Test func aliasBombInsideAFlowSequenceKey() throws {
        let outcome = try load("release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "[*l9, *l9]: x\n")
        #expect(
            outcome.lines == ["plan.yaml:14:10: error: a list or mapping cannot be a mapping key; keys are plain names"]
        )
    }

    /// libyaml keeps implicit keys to one line, which is why the key checks can look at one line at a time.
    @Test func aliasBombInsideAFlowKeyOverTwoLinesIsNoKey() throws {
        let outcome = try load(
            "release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "x: {[*l9, *l9\n  ]: y}\n"
        )
        expectLines(outcome.lines, ["plan.yaml:15:*: error: invalid YAML: *"])
    }

    @Test func aliasBombAsComplexKey() throws {
        let outcome = try load("release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "? *l9\n: x\n")
        #expect(
            outcome.lines == [
                "plan.yaml:14:1: error: complex mapping keys ('? ') are not allowed; keys are plain names"
            ]
        )
    }

    @Test func aliasBombAsExplicitKeyInAFlowMappingOverLines() throws {
        let outcome = try load(
            "release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "x: { ? [*l9, *l9]\n  : y }\n"
        )
        #expect(
            outcome.lines == [
                "plan.yaml:14:6: error: complex mapping keys ('? ') are not allowed; keys are plain names"
            ]
        )
    }

    @Test func aliasBombAsExplicitKeyInAFlowSequence() throws {
        let outcome = try load(
            "release: 4.3.0-rc6\ntitle: Bomb\nguests:\n" + Self.billionLaughs() + "x: [ a, ? *l9\n : y ]\n"
        )
        #expect(
            outcome.lines == [
                "plan.yaml:14:9: error: complex mapping keys ('? ') are not allowed; keys are plain names"
            ]
        )
    }

    /// What the key checks look for also occurs in ordinary plans: regular expressions with '*', '?', brackets and
    /// colons.
    @Test func keyChecksLeaveOrdinaryTextAlone() throws {
        let outcome = try load(
            #"""
            release: 4.3.0-rc6
            title: "Why? [really]: yes"
            summary: Anchors are fine *here*, and so is a question? Yes.
            cases:
              - id: one
                title: One
                area: lifecycle
                guest: {type: pv}
                steps:
                  - create:
                  - guest-exec: ls /sys/class/net/* | wc -l
                    expect: {output-matches: '^[0-9]+$'}
                  - guest-exec: dmesg
                    expect: {output-matches: '\[\s*[0-9.]+\]: xen.*: ok'}
                  - destroy:
            """#
        )
        #expect(outcome.lines.isEmpty)
        #expect(outcome.plan?.title == "Why? [really]: yes")
    }

    /// The key checks read the text line by line without a YAML tokenizer, so quoted text that looks like an
    /// aliased flow key is refused too: a known limit, with a way around it.
    @Test func quotedTextThatLooksLikeAnAliasedKeyIsRefused() throws {
        let outcome = try load(
            """
            release: 4.3.0-rc6
            title: Fixture plan
            summary: 'a * [b]: c'
            """
        )
        #expect(
            outcome.lines == ["plan.yaml:3:17: error: a list or mapping cannot be a mapping key; keys are plain names"]
        )
    }

    @Test func complexKeyInsideASequence() throws {
        let outcome = try load("cases:\n  - ? [a, b]\n    : x\n")
        #expect(
            outcome.lines == ["plan.yaml:2:5: error: complex mapping keys ('? ') are not allowed; keys are plain names"]
        )
    }

    /// Shared aliases that the loader walks over and over (each duplicate case is read for its own problems) stop
    /// at the node budget instead of running for hours.
    @Test func aliasesThatMultiplyTheWalkStopAtTheNodeBudget() throws {
        let steps = "[&st {pci-assignable-list: }" + String(repeating: ", *st", count: 2_000) + "]"
        var text = "release: 4.3.0-rc6\ntitle: Many walks\ncases:\n"
        text += "  - &case {id: same, title: Same, area: lifecycle, steps: \(steps)}\n"
        text += String(repeating: "  - *case\n", count: 300)
        let outcome = try load(text)
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines.contains {
                $0.contains(
                    "error: the file expands to more than 500000 YAML nodes (nested aliases?); refusing to read further"
                )
            }
        )
        // One duplicate-id error per alias, and the budget error: nothing multiplies.
        #expect(outcome.lines.count <= 302, "\(outcome.lines.count) diagnostics")
    }

    @Test func longLineOfAsterisks() throws {
        let outcome = try load("release: 4.3.0-rc6\nsummary: " + String(repeating: "*", count: 1_500_000) + "\n")
        #expect(outcome.plan == nil)
        #expect(outcome.diagnostics.hasErrors)
    }

    @Test func longLineOfAliasLikeWords() throws {
        let outcome = try load("summary: [" + String(repeating: " *a,", count: 300_000) + "]\n")
        #expect(outcome.plan == nil)
        #expect(outcome.diagnostics.hasErrors)
    }

    @Test func undefinedAliasIsAnError() throws {
        let outcome = try load("release: 4.3.0-rc6\ntitle: *nowhere\n")
        expectLines(outcome.lines, ["plan.yaml:2:8: error: invalid YAML: *"])
    }
}
