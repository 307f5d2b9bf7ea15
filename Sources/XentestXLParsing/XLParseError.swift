import Foundation
import XentestPlan

// Parsers for what `xl` (Xen 4.17) prints, checked against real captures in
// Tests/XentestLibraryTests/Fixtures/xl (see the README there). Every parser is a pure function of the text: it either
// returns typed values or throws an `XLParseError` naming the command, the line and the reason. None of them traps on
// any input.

/// Output of an `xl` (or `xenstore-read`) command that does not have the shape the parser knows.
///
/// `lineNumber` is 1-based and counts every line of the text, blank ones included. It and `line` are nil when the
/// problem is the text as a whole: empty output, an `xl info` key that never appears, JSON whose structure is wrong.
/// `line` is the offending line as printed, without its line ending.
public struct XLParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The command whose output was being read, e.g. `xl vcpu-list`.
    public var command: String
    /// The 1-based number of the offending line.
    public var lineNumber: Int?
    /// The offending line.
    public var line: String?
    /// What was expected and not found.
    public var reason: String

    /// An error about `line` (number `lineNumber`) of `command`'s output.
    public init(command: String, lineNumber: Int? = nil, line: String? = nil, reason: String) {
        self.command = command
        self.lineNumber = lineNumber
        self.line = line
        self.reason = reason
    }

    /// `COMMAND: line N: REASON: 'LINE'`, e.g. `xl domid: line 1: expected one line with a domain id: 'guest1'`.
    public var description: String {
        var text = command
        if let lineNumber { text += ": line \(lineNumber)" }
        text += ": " + reason
        if let line { text += ": '\(line)'" }
        return text
    }
}
