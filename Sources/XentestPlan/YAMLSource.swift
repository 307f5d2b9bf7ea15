import Foundation
import Yams
import XentestSupport

/// A YAML file composed into nodes, with the limits that keep hostile input from crashing, hanging or ballooning.
///
/// Yams composes recursively and hashes mapping keys for its duplicate check, so three things are checked on the
/// text before Yams sees it: size, nesting depth, and mapping keys that are not plain scalars (an alias bomb used as a
/// key, inside a `[...]: ` key or after a `? `, also in a flow collection, would be hashed exponentially inside Yams).
/// Alias bombs used as values are caught later by `YAMLReader`'s node budget, since Yams shares aliased nodes instead
/// of copying them.
struct YAMLSource {
    /// Larger plan files are refused: a generated 1,000-case plan is well under this.
    static let maximumBytes = 2 * 1024 * 1024
    /// Plans nest a handful of levels; anything deeper is refused before the recursive composer sees it.
    static let maximumDepth = 64

    /// The file name used in diagnostics.
    let file: String
    /// The root node; nil for an empty document or when loading failed.
    let root: Node?

    /// Reads and composes `path`; problems go to `diagnostics`, never thrown.
    static func load(path: String, displayName: String? = nil, diagnostics: inout [Diagnostic]) -> YAMLSource {
        let name = displayName ?? path
        switch read(path) {
        case .success(let data): return parse(data, file: name, diagnostics: &diagnostics)
        case .failure(let problem):
            diagnostics.append(.error(problem.message, at: SourceLocation(file: name)))
            return YAMLSource(file: name, root: nil)
        }
    }

    /// The bytes of `path`, at most one more than `maximumBytes`; a device (`/dev/null`) or a pipe
    /// (`<(generate-plan)`) is read as the text it gives.
    ///
    /// Errors are the system's own words (`No such file or directory`), not Foundation's (`Error.systemReason`).
    /// `kind` names the files in messages (`plan and host files`), `expected` what to name instead of a directory.
    static func read(_ path: String, kind: String = "plan and host files", expected: String = "a YAML file") -> Result<
        Data, ValueError
    > {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return .failure(ValueError("cannot read file: it is a directory; name \(expected)"))
        }
        // A regular file's size is known before reading it; a device's or a pipe's only from what it gives.
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maximumBytes {
            return .failure(ValueError("file is \(size) bytes; \(kind) are limited to \(maximumBytes) bytes"))
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(ValueError("cannot read file: \(String(cString: strerror(errno)))"))
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            let data = try handle.read(upToCount: maximumBytes + 1) ?? Data()
            guard data.count <= maximumBytes else {
                return .failure(ValueError("input is over \(maximumBytes) bytes; \(kind) are limited to that"))
            }
            return .success(data)
        } catch { return .failure(ValueError("cannot read file: \(error.systemReason)")) }
    }

    /// Composes YAML bytes; `file` names them in diagnostics.
    static func parse(_ data: Data, file: String, diagnostics: inout [Diagnostic]) -> YAMLSource {
        guard data.count <= maximumBytes else {
            diagnostics.append(
                .error(
                    "input is \(data.count) bytes; plan and host files are limited to \(maximumBytes) bytes",
                    at: SourceLocation(file: file)
                )
            )
            return YAMLSource(file: file, root: nil)
        }
        let bytes = [UInt8](data)
        if let problem = textProblem(bytes, file: file) {
            diagnostics.append(problem)
            return YAMLSource(file: file, root: nil)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let structural = structuralProblems(text, file: file)
        guard structural.isEmpty else {
            diagnostics.append(contentsOf: structural)
            return YAMLSource(file: file, root: nil)
        }
        do {
            let root = try Parser(yaml: text).singleRoot()
            return YAMLSource(file: file, root: root)
        } catch let error as YamlError { diagnostics.append(diagnostic(for: error, file: file, text: text)) } catch {
            diagnostics.append(.error("cannot parse YAML: \(error)", at: SourceLocation(file: file)))
        }
        return YAMLSource(file: file, root: nil)
    }

    /// Binary content and invalid UTF-8, reported at the first bad byte.
    private static func textProblem(_ bytes: [UInt8], file: String) -> Diagnostic? {
        var line = 1
        var column = 1
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let length: Int
            switch byte {
            case 0x00:
                return .error(
                    "file contains a NUL byte: this is not a text file",
                    at: SourceLocation(file: file, line: line, column: column)
                )
            case 0x00..<0x80: length = 1
            case 0xC2..<0xE0: length = 2
            case 0xE0..<0xF0: length = 3
            case 0xF0..<0xF5: length = 4
            default: length = 0
            }
            // The second byte's range also rules out overlong forms, UTF-16 surrogates and code points past U+10FFFF.
            let second: ClosedRange<UInt8> =
                switch byte {
                case 0xE0: 0xA0...0xBF
                case 0xED: 0x80...0x9F
                case 0xF0: 0x90...0xBF
                case 0xF4: 0x80...0x8F
                default: 0x80...0xBF
                }
            let valid =
                length > 0 && index + length <= bytes.count && (length == 1 || second.contains(bytes[index + 1]))
                && bytes[(index + 1)..<(index + length)].allSatisfy { $0 & 0xC0 == 0x80 }
            guard valid else {
                return .error(
                    "invalid UTF-8 (byte 0x\(String(byte, radix: 16, uppercase: true))): plans must be UTF-8 text",
                    at: SourceLocation(file: file, line: line, column: column)
                )
            }
            if byte == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += length
        }
        return nil
    }

    /// Nesting deeper than `maximumDepth`, and mapping keys that are not plain scalars.
    ///
    /// Depth is over-estimated from indentation, block-sequence dashes and flow brackets; quoted text can only make
    /// the estimate larger, so a plan that passes this check is safe for the recursive composer.
    private static func structuralProblems(_ text: String, file: String) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        var flowDepth = 0
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.utf8
            var column = 0
            var indentation = 0
            var dashes = 0
            var atLineStart = true
            var previous: UInt8 = 0x20
            var mayHaveSpecialKey = false  // '?' or '*': the only lines worth the (slow) key patterns
            var deepestFlow = flowDepth  // "[[[...]]]" on one line ends where it started
            var iterator = line.makeIterator()
            while let byte = iterator.next() {
                column += 1
                if atLineStart {
                    if byte == 0x20 {
                        indentation += 1
                    } else if byte == 0x2D, previous == 0x20 || column == 1 {  // "- " block sequence entry
                        dashes += 1
                        indentation += 1
                    } else if byte == 0x23 {  // comment
                        break
                    } else {
                        atLineStart = false
                    }
                }
                if byte == 0x3F || byte == 0x2A { mayHaveSpecialKey = true }
                if byte == 0x5B || byte == 0x7B {
                    flowDepth += 1
                    deepestFlow = max(deepestFlow, flowDepth)
                } else if byte == 0x5D || byte == 0x7D {
                    flowDepth = max(0, flowDepth - 1)
                }
                previous = byte
            }
            let depth = indentation / 2 + dashes + deepestFlow
            if depth > maximumDepth || indentation > maximumDepth * 4 {
                problems.append(
                    .error(
                        "nesting is deeper than \(maximumDepth) levels",
                        at: SourceLocation(file: file, line: lineNumber, column: 1)
                    )
                )
                return problems
            }
            guard mayHaveSpecialKey else { continue }
            // The raw line, quotes and all: telling quoted text from keys needs a YAML tokenizer (quoted scalars
            // span lines), and a wrong guess could hide a key. Text with ' *' and ']: ' on one line is refused too.
            func columnOf(_ index: String.Index) -> Int {
                rawLine.unicodeScalars.distance(from: rawLine.startIndex, to: index) + 1
            }
            // A key is one line (libyaml's simple keys), so an alias inside a `[...]: ` key is on the same line.
            if rawLine.contains(aliasPattern), let flowKey = rawLine.firstMatch(of: flowCollectionKeyPattern) {
                problems.append(
                    .error(
                        "a list or mapping cannot be a mapping key; keys are plain names",
                        at: SourceLocation(file: file, line: lineNumber, column: columnOf(flowKey.range.lowerBound))
                    )
                )
            }
            if let complexKey = rawLine.firstMatch(of: complexKeyPattern) {
                let question = rawLine.index(before: complexKey.range.upperBound)
                problems.append(
                    .error(
                        "complex mapping keys ('? ') are not allowed; keys are plain names",
                        at: SourceLocation(file: file, line: lineNumber, column: columnOf(question))
                    )
                )
            }
            if let aliasKey = rawLine.firstMatch(of: aliasKeyPattern) {
                let star = rawLine[aliasKey.range].firstIndex(of: "*") ?? aliasKey.range.lowerBound
                problems.append(
                    .error(
                        "an alias (*name) cannot be a mapping key; keys are plain names",
                        at: SourceLocation(file: file, line: lineNumber, column: columnOf(star))
                    )
                )
            }
        }
        return problems
    }

    /// `? ` at the start of a block entry, or after `{`, `[` or `,` (an explicit key in a flow collection, which
    /// may span lines).
    nonisolated(unsafe) private static let complexKeyPattern = #/(?:^\s*(?:-\s+)*|[{\[,]\s*)\?(?=\s|$)/#
    /// The end of a flow collection used as an implicit key (`[*a, *a]: x`); Yams hashes such a key whole.
    nonisolated(unsafe) private static let flowCollectionKeyPattern = #/[\]}]\s*:(?:\s|$)/#
    nonisolated(unsafe) private static let aliasKeyPattern = #/(?:^|[\s{,\[])\*[^\s,\[\]{}]+\s*:(?:\s|$)/#
    /// A '*' where a node can start.
    nonisolated(unsafe) private static let aliasPattern = #/(?:^|[\s{,\[])\*/#
}
