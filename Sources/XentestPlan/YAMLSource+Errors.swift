import Yams
import XentestSupport

/// Yams' errors as diagnostics, at the place the author has to change.
extension YAMLSource {
    /// A Yams error as a diagnostic at its place in `text`; a tab in the indentation and a repeated key are named at
    /// the place to change.
    static func diagnostic(for error: YamlError, file: String, text: String) -> Diagnostic {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _):
            if let tab = indentingTab(in: text, near: mark) {
                return .error(
                    "invalid YAML: a tab indents this line; YAML indents with spaces only, so replace the tab with spaces",
                    at: SourceLocation(file: file, line: tab.line, column: tab.column)
                )
            }
            return plain(error, file: file)
        case .composer: return plain(error, file: file)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            let first = SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
            // Yams marks the key's first occurrence; the one to remove or rename is the repeat.
            guard let key = duplicates.first, let repeated = repeatedKey(key, after: context.mark, in: text) else {
                return .error("duplicate key \(keys) in the same mapping", at: first)
            }
            return .error(
                "duplicate key \(keys) in the same mapping; first at \(first)",
                at: SourceLocation(file: file, line: repeated.line, column: repeated.column)
            )
        case .reader(let problem, let offset, let value, let yaml):
            // Yams gives a character offset; lines and columns count Unicode scalars, as marks do.
            var line = 1
            var column = 1
            for scalar in yaml.prefix(offset ?? 0).unicodeScalars {
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            }
            let hex = String(value, radix: 16, uppercase: true)
            let character = value >= 0 ? " (U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex))" : ""
            return .error(
                "invalid YAML: \(problem)\(character)",
                at: offset == nil ? SourceLocation(file: file) : SourceLocation(file: file, line: line, column: column)
            )
        default: return .error("invalid YAML: \(error)", at: SourceLocation(file: file))
        }
    }

    /// A scanner, parser or composer error in libyaml's words, at its mark.
    private static func plain(_ error: YamlError, file: String) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\(problem) (\($0.text))" } ?? problem
            return .error(
                "invalid YAML: \(detail)",
                at: SourceLocation(file: file, line: mark.line, column: mark.column)
            )
        default: return .error("invalid YAML: \(error)", at: SourceLocation(file: file))
        }
    }

    /// The tab libyaml stopped at, or a tab in the leading whitespace of the error's line or the line before it
    /// (libyaml sometimes notices a line late) before text that is not a comment; 1-based.
    static func indentingTab(in text: String, near mark: Mark) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if mark.line >= 1, mark.line <= lines.count, mark.column >= 1 {
            let scalars = Array(lines[mark.line - 1].unicodeScalars)
            if mark.column <= scalars.count, scalars[mark.column - 1] == "\t" { return (mark.line, mark.column) }
        }
        for number in [mark.line, mark.line - 1] where number >= 1 && number <= lines.count {
            let scalars = lines[number - 1].unicodeScalars
            let indentation = scalars.prefix { $0 == " " || $0 == "\t" }
            guard let tab = indentation.firstIndex(of: "\t") else { continue }
            let rest = scalars[indentation.endIndex...]
            guard let first = rest.first, first != "#", first != "\r" else { continue }
            return (number, scalars.distance(from: scalars.startIndex, to: tab) + 1)
        }
        return nil
    }

    /// Where `key`, first at `first`, is written again in the same mapping; nil when the text does not tell.
    ///
    /// In a flow mapping (`{a: 1, a: 2}`) that is later on the same line, at the same nesting; in a block mapping,
    /// on a later line indented as far, before a line indented less ends the mapping. Quoted keys count too.
    static func repeatedKey(_ key: String, after first: Mark, in text: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        guard first.line >= 1, first.line <= lines.count, first.column >= 1 else { return nil }
        let forms = [key, "\"\(key)\"", "'\(key)'"].map { Array($0.unicodeScalars) }
        func keyStarts(_ line: [Unicode.Scalar], at index: Int) -> Bool {
            forms.contains { form in
                guard index + form.count <= line.count, Array(line[index..<(index + form.count)]) == form else {
                    return false
                }
                return line[(index + form.count)...].first { $0 != " " } == ":"
            }
        }
        let firstLine = lines[first.line - 1]
        var depth = 0
        var index = first.column
        while index < firstLine.count {
            let scalar = firstLine[index]
            if scalar == "{" || scalar == "[" { depth += 1 }
            if scalar == "}" || scalar == "]" { depth -= 1 }
            if depth < 0 { break }
            if depth == 0, scalar == ",", let start = firstLine[(index + 1)...].firstIndex(where: { $0 != " " }),
                keyStarts(firstLine, at: start)
            {
                return (first.line, start + 1)
            }
            index += 1
        }
        for number in first.line..<lines.count {
            let line = lines[number]
            let indentation = line.prefix { $0 == " " }.count
            guard indentation < line.count, line[indentation] != "#" else { continue }  // blank or a comment
            if indentation + 1 < first.column { return nil }
            if indentation + 1 == first.column, keyStarts(line, at: indentation) { return (number + 1, first.column) }
        }
        return nil
    }
}
