import Yams
import XentestSupport

/// Reads composed YAML nodes into typed values, collecting a diagnostic for every problem instead of stopping.
///
/// Every node read counts against a budget: Yams shares aliased nodes, so a small file with nested aliases
/// (an alias bomb) would otherwise make a walk exponential.
final class YAMLReader {
    /// How many nodes one file may expand to; a 1,000-case plan reads about 60,000.
    static let nodeBudget = 500_000

    let file: String
    private(set) var diagnostics: [Diagnostic] = []
    private var nodesRead = 0
    private var budgetExceeded = false

    init(file: String) { self.file = file }

    func location(of node: Node) -> SourceLocation {
        guard let mark = node.mark else { return SourceLocation(file: file) }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    func error(_ message: String, at node: Node) { diagnostics.append(.error(message, at: location(of: node))) }

    func error(_ message: String, at location: SourceLocation) { diagnostics.append(.error(message, at: location)) }

    func warning(_ message: String, at node: Node) { diagnostics.append(.warning(message, at: location(of: node))) }

    /// Counts a node against the budget; false once the budget is spent (reported once).
    private func visit(_ node: Node) -> Bool {
        nodesRead += 1
        guard nodesRead <= Self.nodeBudget else {
            if !budgetExceeded {
                budgetExceeded = true
                error(
                    "the file expands to more than \(Self.nodeBudget) YAML nodes (nested aliases?); refusing to read further",
                    at: node
                )
            }
            return false
        }
        return true
    }

    /// A mapping's entries by key, after checking keys: unknown keys are errors with a suggestion, missing
    /// required keys are errors at the mapping.
    func mapping(_ node: Node, _ what: String, allowed: [String], required: [String] = []) -> Fields? {
        guard visit(node) else { return nil }
        guard case .mapping(let mapping) = node else {
            error("\(what) must be a mapping (key: value), not \(kind(of: node))", at: node)
            return nil
        }
        var fields = Fields(node: node)
        for (keyNode, value) in mapping {
            guard visit(keyNode) else { return nil }
            guard case .scalar(let scalar) = keyNode else {
                error("keys in \(what) must be plain names", at: keyNode)
                continue
            }
            let key = scalar.string
            guard allowed.contains(key) else {
                var message = "unknown key '\(key)' in \(what)"
                if let suggestion = closestMatch(to: key, in: allowed) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += "; expected one of: \(allowed.joined(separator: ", "))"
                }
                error(message, at: keyNode)
                continue
            }
            fields.entries.append((key, keyNode, value))
        }
        for key in required where fields[key] == nil { error("\(what) is missing required key '\(key)'", at: node) }
        return fields
    }

    /// The entries of a mapping whose keys are names chosen by the author (guests, PCI roles).
    func namedEntries(_ node: Node, _ what: String) -> [(name: String, keyNode: Node, value: Node)] {
        guard visit(node) else { return [] }
        guard case .mapping(let mapping) = node else {
            error("\(what) must be a mapping of names, not \(kind(of: node))", at: node)
            return []
        }
        var entries: [(name: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                error("names in \(what) must be plain strings", at: keyNode)
                continue
            }
            entries.append((scalar.string, keyNode, value))
        }
        return entries
    }

    func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard visit(node) else { return nil }
        guard case .sequence(let sequence) = node else {
            error("\(what) must be a list, not \(kind(of: node))", at: node)
            return nil
        }
        return Array(sequence)
    }

    /// A string scalar; quoted or plain. Numbers and booleans are accepted as their text.
    func string(_ node: Node, _ what: String) -> String? {
        guard visit(node) else { return nil }
        guard case .scalar(let scalar) = node else {
            error("\(what) must be a string, not \(kind(of: node))", at: node)
            return nil
        }
        if scalar.style == .plain, isNull(scalar.string) {
            error("\(what) must not be empty", at: node)
            return nil
        }
        return scalar.string
    }

    /// A name: lowercase letters, digits and '-', starting with a letter; used for ids, areas, tags and roles.
    func name(_ node: Node, _ what: String) -> String? {
        guard let value = string(node, what) else { return nil }
        guard Self.isName(value) else {
            error(
                "\(what) '\(value)' is not a valid name: use lowercase letters, digits and '-', starting with a letter",
                at: node
            )
            return nil
        }
        return value
    }

    static func isName(_ value: String) -> Bool {
        guard let first = value.utf8.first, (0x61...0x7A).contains(first), value.utf8.count <= 64 else { return false }
        return value.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
    }

    /// A list of names; a single name is accepted as a one-element list.
    func names(_ node: Node, _ what: String) -> [String]? {
        if case .scalar = node { return name(node, what).map { [$0] } }
        guard let items = sequence(node, what) else { return nil }
        return items.compactMap { name($0, "each of \(what)") }
    }

    func int(_ node: Node, _ what: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, what) else { return nil }
        guard let value = Int(text) else {
            error("\(what) must be a whole number, not '\(text)'", at: node)
            return nil
        }
        guard range.contains(value) else {
            error("\(what) must be between \(range.lowerBound) and \(range.upperBound), not \(value)", at: node)
            return nil
        }
        return value
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        guard let text = string(node, what) else { return nil }
        switch text {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error("\(what) must be true or false, not '\(text)'", at: node)
            return nil
        }
    }

    /// One of a fixed set of words.
    func word<T: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, as type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, what) else { return nil }
        if let value = T(rawValue: text) { return value }
        let allowed = T.allCases.map(\.rawValue)
        var message = "\(what) '\(text)' is not one of: \(allowed.joined(separator: ", "))"
        if let suggestion = closestMatch(to: text, in: allowed) { message += "; did you mean '\(suggestion)'?" }
        error(message, at: node)
        return nil
    }

    /// Reads a value with a parser that returns an error message on failure.
    func parsed<T>(_ node: Node, _ what: String, _ parse: (String) -> Result<T, ValueError>) -> T? {
        guard let text = string(node, what) else { return nil }
        switch parse(text) {
        case .success(let value): return value
        case .failure(let problem):
            error("\(what): \(problem.message)", at: node)
            return nil
        }
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, isNull(scalar.string) { return true }
        return false
    }

    private func isNull(_ text: String) -> Bool { text.isEmpty || text == "~" || text == "null" || text == "Null" }

    func kind(of node: Node) -> String {
        switch node {
        case .scalar(let scalar): isNull(scalar.string) && scalar.style == .plain ? "empty" : "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

/// The checked entries of one YAML mapping.
struct Fields {
    let node: Node
    var entries: [(key: String, keyNode: Node, value: Node)] = []

    subscript(key: String) -> Node? { entries.first { $0.key == key }?.value }
}

/// The closest of `candidates` to `word` by edit distance, if it is close enough to be a likely typo.
package func closestMatch(to word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
    guard let (candidate, distance) = scored, distance <= max(2, word.count / 3) else { return nil }
    return candidate
}

/// Levenshtein distance over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
