import XentestSupport
/// A place in a source file: 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file as the user named it (or as an include resolved it).
    public var file: String
    /// 1-based line; 0 when only the file is known.
    public var line: Int
    /// 1-based column; 0 when only the line is known.
    public var column: Int

    /// A location in `file` at `line`:`column`.
    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`, leaving out the parts that are not known.
    public var description: String {
        guard line > 0 else { return file }
        guard column > 0 else { return "\(file):\(line)" }
        return "\(file):\(line):\(column)"
    }
}

/// A problem found in a plan or host file, as a value: all of them are collected, then printed compiler-style.
public struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    /// How bad a problem is: only errors stop a plan from running.
    public enum Severity: String, Sendable, Codable { case note, warning, error }

    /// How bad it is.
    public var severity: Severity
    /// What is wrong, and where it helps, what to do instead.
    public var message: String
    /// Where it is.
    public var location: SourceLocation

    /// An error at `location`.
    public static func error(_ message: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(severity: .error, message: message, location: location)
    }

    /// A warning at `location`.
    public static func warning(_ message: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(severity: .warning, message: message, location: location)
    }

    /// `path:line:col: error: message`, the form editors and CI logs understand.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// Thrown when loading produced at least one error; carries every diagnostic found, not just the first.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    /// All problems found, warnings included, in source order.
    public var diagnostics: [Diagnostic]

    /// Wraps the collected problems.
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// One diagnostic a line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

extension Array where Element == Diagnostic {
    /// Whether any of them is an error.
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// Sorted by file, line and column, so that output is stable whatever order checks ran in.
    public func sortedBySource() -> [Diagnostic] {
        sorted {
            ($0.location.file, $0.location.line, $0.location.column, $0.message) < (
                $1.location.file, $1.location.line, $1.location.column, $1.message
            )
        }
    }
}
