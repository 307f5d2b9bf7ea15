import Foundation

/// An xl config file (xl.cfg(5)) as xl's own reader, libxlu, takes it: `key = value` and `key += value` lines, each
/// value a number, a quoted string or a `[ ... ]` list of values, every one with the place it was written.
///
/// This is the syntax alone: which keys mean what is `XLConfigImport`'s business. Configs written for xm keep working
/// with xl as long as they are plain assignments; xm ran its configs as Python, and a file that needs Python (`%`,
/// `def`, arithmetic) is refused here as xl refuses it.
public struct XLConfigFile: Sendable, Hashable {
    /// The file as the user named it: the start of every location.
    public var file: String
    /// The assignments in file order, including those a later one overrides.
    public var entries: [Entry]

    /// A file named `file` holding `entries`.
    public init(file: String, entries: [Entry]) {
        self.file = file
        self.entries = entries
    }

    /// `key = value` (`assign`) or `key += value` (`append`: xl adds the value to the key's earlier list or string).
    public enum Operation: String, Sendable, Hashable {
        case assign = "="
        case append = "+="
    }

    /// One assignment.
    public struct Entry: Sendable, Hashable {
        /// The key, lowercase as xl requires.
        public var key: String
        /// `=` or `+=`.
        public var operation: Operation
        /// What it is set to.
        public var value: XLConfigFileValue
        /// Where the key is written.
        public var location: SourceLocation
    }

    /// Reads `path` and parses it; `displayName` names it in diagnostics (the path by default).
    public static func load(path: String, displayName: String? = nil) throws(DiagnosticsError) -> XLConfigFile {
        let name = displayName ?? path
        switch YAMLSource.read(path, kind: "xl config files", expected: "an xl config file") {
        case .success(let data):
            guard let text = String(data: data, encoding: .utf8) else {
                throw DiagnosticsError([.error("the file is not UTF-8 text", at: SourceLocation(file: name))])
            }
            return try parse(text, file: name)
        case .failure(let problem): throw DiagnosticsError([.error(problem.message, at: SourceLocation(file: name))])
        }
    }

    /// Parses `text`, naming it `file` in locations; every problem is reported at once.
    public static func parse(_ text: String, file: String) throws(DiagnosticsError) -> XLConfigFile {
        var parser = XLConfigFileParser(text: text, file: file)
        let entries = parser.parseFile()
        guard !parser.diagnostics.hasErrors else { throw DiagnosticsError(parser.diagnostics.sortedBySource()) }
        return XLConfigFile(file: file, entries: entries)
    }

    /// Each key's value as xl uses it: the last `=` with any later `+=` added to it, in the order keys first
    /// appear. A `+=` list onto a list appends, a string onto a string concatenates (libxlu's rule); anything else
    /// xl refuses, reported as an error.
    public func settings() -> (settings: [Setting], diagnostics: [Diagnostic]) {
        var order: [String] = []
        var byKey: [String: Setting] = [:]
        var diagnostics: [Diagnostic] = []
        for entry in entries {
            guard var setting = byKey[entry.key], entry.operation == .append else {
                if let earlier = byKey[entry.key] {
                    byKey[entry.key] = Setting(
                        key: entry.key,
                        value: entry.value,
                        location: entry.location,
                        overridden: earlier.overridden + [earlier.location]
                    )
                } else {
                    order.append(entry.key)
                    byKey[entry.key] = Setting(key: entry.key, value: entry.value, location: entry.location)
                }
                continue
            }
            switch (setting.value.kind, entry.value.kind) {
            case (.list(let items), .list(let more)): setting.value.kind = .list(items + more)
            case (.text(let text, let quoted), .text(let more, _)):
                setting.value.kind = .text(text + more, quoted: quoted)
            default:
                diagnostics.append(
                    .error(
                        "'\(entry.key) +=' adds \(entry.value.kindName) to \(setting.value.kindName) (line "
                            + "\(setting.location.line)); xl adds only a list to a list or a string to a string",
                        at: entry.location
                    )
                )
            }
            byKey[entry.key] = setting
        }
        return (order.compactMap { byKey[$0] }, diagnostics)
    }

    /// A key's value as xl uses it.
    public struct Setting: Sendable, Hashable {
        /// The key.
        public var key: String
        /// Its value, with any `+=` added.
        public var value: XLConfigFileValue
        /// Where the `=` that set it is.
        public var location: SourceLocation
        /// Earlier assignments of the same key, which xl ignores.
        public var overridden: [SourceLocation] = []
    }
}

/// A value in an xl config file: a number or string (libxlu keeps both as text), or a list of values.
public struct XLConfigFileValue: Sendable, Hashable, CustomStringConvertible {
    /// What the value is.
    public enum Kind: Sendable, Hashable {
        /// A number (`128`, `0x10`: bare) or a string (quoted, escapes undone).
        case text(String, quoted: Bool)
        /// `[ ... ]`.
        case list([XLConfigFileValue])
    }

    /// What the value is.
    public var kind: Kind
    /// Where it starts.
    public var location: SourceLocation

    /// The text of a number or string; nil for a list.
    public var text: String? { if case .text(let text, _) = kind { text } else { nil } }

    /// The items of a list; nil for a number or string.
    public var items: [XLConfigFileValue]? { if case .list(let items) = kind { items } else { nil } }

    /// "a string", "a number" or "a list", for messages.
    var kindName: String {
        switch kind {
        case .text(_, quoted: true): "a string"
        case .text(_, quoted: false): "a number"
        case .list: "a list"
        }
    }

    /// As it could be written back: `128`, `"text"`, `[ "a", "b" ]`.
    public var description: String {
        switch kind {
        case .text(let text, quoted: false): text
        case .text(let text, quoted: true):
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .list(let items): "[ " + items.map(\.description).joined(separator: ", ") + " ]"
        }
    }
}
