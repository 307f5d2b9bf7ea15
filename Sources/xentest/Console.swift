import ArgumentParser
import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// The terminal: stdout for what was asked for, stderr for progress and problems. The only writer of either.
enum Console {
    /// Lines on stderr (nothing for none).
    static func error(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// One line on stderr.
    static func error(_ line: String) { error([line]) }

    /// Text on stdout, as it is.
    static func out(_ text: String) { print(text, terminator: "") }

    /// What stdout holds so far written out, so that stderr's lines after it follow it on a terminal.
    static func flushOut() { fflush(nil) }  // nil: every stream, stdout among them

    /// `text` to the file `path` (an `--output`); when it cannot be written, an error naming it, and exit 2.
    static func write(_ text: String, toFile path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            Console.error("error: cannot write \(path): \(error.systemReason)")
            throw ExitCode(XentestExitStatus.unusable)
        }
    }

    /// Diagnostics, compiler-style, on stderr.
    static func diagnostics(_ diagnostics: [Diagnostic]) { error(diagnostics.map(\.description)) }
}

extension ExitCode {
    /// The exit code of one of xentest's statuses.
    init(_ status: XentestExitStatus) { self.init(status.rawValue) }
}

/// Ends the command with `status` unless it is success.
func endUnlessSuccess(_ status: XentestExitStatus) throws { if status != .success { throw ExitCode(status) } }
