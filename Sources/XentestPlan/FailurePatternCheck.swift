/// Why a known issue's `failure-matches` cannot match any failure message of its case, read from the pattern's text.
///
/// A failed step's message reads `step N (ACTION ARGUMENT): ...`. A pattern that puts `(` unescaped after `step N`
/// (a regex group: the message's parenthesis is then never matched), names a step the case does not have, or names
/// step N with an action that step does not have, cannot match it, and the known issue would never explain the
/// failure it was written for.
enum FailurePatternCheck {
    /// `step N (` or `step N \(ACTION`, as a pattern would write a step of the failure message.
    nonisolated(unsafe) private static let stepMention = #/step\s+(\d+)\s+(\\?)\(([a-z-]*)/#.ignoresCase()

    /// What is wrong with `pattern` for a case with these steps; empty when it can match.
    ///
    /// A pattern of alternatives (`a|b`) can match when one of them can; an alternative with alternatives of its
    /// own inside a group is taken as one that can.
    static func problems(_ pattern: String, steps: [Step]) -> [String] {
        let perAlternative = alternatives(of: pattern)
            .map { alternative in
                alternative.hasNestedAlternatives ? [] : problems(alternative.text, of: pattern, steps: steps)
            }
        return perAlternative.contains { $0.isEmpty } ? [] : perAlternative.flatMap { $0 }
    }

    /// The top-level alternatives of a pattern, split at each `|` outside groups, classes and escapes.
    private static func alternatives(of pattern: String) -> [(text: String, hasNestedAlternatives: Bool)] {
        var result: [(text: String, hasNestedAlternatives: Bool)] = []
        var current = ""
        var nested = false
        var depth = 0
        var inClass = false
        var escaped = false
        for character in pattern {
            if escaped {
                escaped = false
                current.append(character)
                continue
            }
            switch character {
            case "\\": escaped = true
            case "[": inClass = true
            case "]": inClass = false
            case "(" where !inClass: depth += 1
            case ")" where !inClass: depth = max(0, depth - 1)
            case "|" where !inClass && depth == 0:
                result.append((current, nested))
                current = ""
                nested = false
                continue
            case "|" where !inClass: nested = true
            default: break
            }
            current.append(character)
        }
        result.append((current, nested))
        return result
    }

    private static func problems(_ alternative: String, of pattern: String, steps: [Step]) -> [String] {
        var problems: [String] = []
        for mention in alternative.matches(of: stepMention) {
            guard let number = Int(mention.output.1) else { continue }
            let said = "failure-matches '\(pattern)' cannot match a failure of this case:"
            guard mention.output.2 == "\\" else {
                problems.append(
                    "\(said) '(' after 'step \(number)' starts a regex group, so it never matches the message's "
                        + "'step \(number) (...)'; write '\\(' and '\\)'"
                )
                continue
            }
            guard number >= 1, number <= steps.count else {
                problems.append(
                    "\(said) it names step \(number), and the case has \(steps.count) step\(steps.count == 1 ? "" : "s")"
                )
                continue
            }
            let action = String(mention.output.3).lowercased()
            let actual = steps[number - 1].action.name.rawValue
            if !action.isEmpty, !actual.hasPrefix(action) {
                problems.append("\(said) it names step \(number) as '\(action)', and step \(number) is '\(actual)'")
            }
        }
        return problems
    }
}
