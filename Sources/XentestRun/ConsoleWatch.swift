import Foundation
import XentestPlan
import XentestSupport

extension GuestSteps {
    /// `wait-for-console: REGEX`: the line of the guest's console that matched, or why it could not be read.
    package static func waitForConsole(_ pattern: PlanPattern, on console: any GuestConsole) async throws
        -> ActionOutcome
    {
        let outcome = try await console.watch(for: pattern)
        return outcome.reached
            ? .success(outcome.evidence, observation: .text(outcome.output))
            : .failure(outcome.problem ?? "the guest's console could not be read", outcome.evidence)
    }

    /// `stay-up: DURATION`: reads the guest's state and domain id through `read` every two seconds until `duration`
    /// has passed; the guest must be running at every reading, under the same domain id (a guest that crashed or
    /// rebooted itself, restarted by the toolstack under its name, has a new one). The evidence keeps the first and
    /// the last readings (the step's label says how long it watched).
    package static func stayUp(for duration: PlanDuration, read: () async throws -> (outcome: ActionOutcome, id: Int?))
        async throws -> ActionOutcome
    {
        let start = Date()
        let end = start.addingTimeInterval(Double(duration.milliseconds) / 1000)
        var first: [Evidence] = []
        var readings = 0
        var firstID: Int?
        while true {
            let (outcome, id) = try await read()
            readings += 1
            if first.isEmpty { first = outcome.evidence }
            let evidence = readings == 1 ? first : first + outcome.evidence
            let after = String(format: "%.0f", Date().timeIntervalSince(start))
            guard outcome.succeeded else {
                return .failure(
                    "after \(after) s of \(duration): "
                        + (outcome.errorMessage ?? "the guest's state could not be read"),
                    evidence
                )
            }
            let state: GuestState? =
                switch outcome.observation {
                case .listing(let state, _), .state(let state): state
                default: nil
                }
            guard let state else { return .failure("the toolstack did not say the guest's state", evidence) }
            guard state == .running else {
                return .failure(
                    "the guest was \(state.rawValue) after \(after) s of the \(duration) it had to stay up "
                        + "(reading \(readings))",
                    evidence
                )
            }
            if let id, let earlier = firstID, id != earlier {
                return .failure(
                    "the guest restarted after \(after) s of the \(duration) it had to stay up: domain id \(earlier), "
                        + "then \(id) (it crashed or rebooted itself, and the toolstack started it again)",
                    evidence
                )
            }
            firstID = firstID ?? id
            let left = end.timeIntervalSinceNow
            if left <= 0 { return .success(evidence, observation: .state(.running)) }
            try await Task.sleep(for: .seconds(min(2, left)))
        }
    }
}

/// Text read from a guest's console, as a person would see it.
package enum ConsoleText {
    /// The first line of `text` that matches `pattern`, trimmed, once carriage returns and terminal escape
    /// sequences (colours, cursor moves) are taken out; nil when none does.
    package static func firstLine(in text: String, matching pattern: PlanPattern) -> String? {
        plain(text).split(separator: "\n", omittingEmptySubsequences: true).lazy.map(String.init)
            .first { pattern.matches($0) }?
            .trimmingCharacters(in: .whitespaces)
    }

    /// `text` without carriage returns and ANSI escape sequences (`ESC [ ... letter`, `ESC ] ... BEL`).
    package static func plain(_ text: String) -> String {
        var out = ""
        var iterator = text.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            switch scalar {
            case "\r": continue
            case "\u{1B}":
                guard let next = iterator.next() else { return out }
                if next == "[" {
                    while let c = iterator.next(), !(("@"..."~").contains(c)) {}
                } else if next == "]" {
                    while let c = iterator.next(), c != "\u{07}", c != "\u{1B}" {}
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
