import Foundation
import XentestPlan
import XentestRun
import XentestSupport

extension HTMLReporter {
    /// Whether a case gets a details section: every status but pass and skip (a skip made nothing; its reason is in
    /// its row).
    static func hasDetails(_ testCase: CaseResult) -> Bool { testCase.status != .pass && testCase.status != .skip }

    /// Each case that did not pass: why, its failing step with what it expected and saw, then each step's calls and
    /// the toolstack's logs, folded.
    static func details(_ result: RunResult) -> [String] {
        let shown = result.cases.enumerated().filter { hasDetails($0.element) }
        guard !shown.isEmpty else { return [] }
        var out = ["<section id=\"details\">", "<h2>Cases that did not pass</h2>"]
        for (index, testCase) in shown {
            out += [
                "<article class=\"case-details case-\(testCase.status.rawValue)\" id=\"details-\(index + 1)\">",
                "<h3>\(badge(testCase.status)) <code>\(htmlEscaped(testCase.id))</code> (\(testCase.backend.rawValue)): "
                    + "\(htmlEscaped(testCase.title))</h3>",
            ]
            if let reason = testCase.reason { out.append("<p class=\"reason\">\(htmlEscaped(reason))</p>") }
            if let issue = testCase.knownIssue {
                out.append("<p class=\"known-issue\">Known issue: \(htmlEscaped(issue))</p>")
            }
            if let then = result.baseline?.cases.first(where: { $0.id == testCase.id && !$0.blocking })?.before {
                out.append("<p class=\"baseline\">Also \(then.rawValue) in the baseline: not failing the run.</p>")
            }
            if let step = CaseWording.failingStep(testCase) { out += failingStep(step) }
            for step in testCase.steps + testCase.teardown { out += folded(step) }
            out.append("</article>")
        }
        out.append("</section>")
        return out
    }

    /// The first step that did not pass: its number and label, what it expected and what was seen.
    package static func failingStep(_ step: StepResult) -> [String] {
        [
            "<dl class=\"failing-step\">",
            "<dt>Failing step</dt><dd>\(step.index + 1), <code>\(htmlEscaped(step.label))</code>: \(badge(step.status))"
                + "</dd>", "<dt>Expected</dt><dd>\(htmlEscaped(step.expected))</dd>",
            "<dt>Seen</dt><dd>\(htmlEscaped(step.message ?? step.status.rawValue))</dd>", "</dl>",
        ]
    }

    /// One step in `<details>`: its calls (a toolstack log kept before teardown shows as one), each with its
    /// arguments, status, duration, output and error.
    package static func folded(_ step: StepResult) -> [String] {
        let isLogs = step.label.hasPrefix("logs: ")
        let calls = step.evidence.count == 1 ? "1 call" : "\(step.evidence.count) calls"
        var out = [
            "<details class=\"\(isLogs ? "logs" : "step")\">",
            "<summary>" + (isLogs ? "Logs" : "Step \(step.index + 1)") + " <code>\(htmlEscaped(step.label))</code>: "
                + "\(badge(step.status)), \(CaseWording.seconds(step.durationSeconds))"
                + (step.attempts > 1 ? ", \(step.attempts) attempts" : "") + ", \(calls)</summary>",
        ]
        if let message = step.message { out.append("<p class=\"message\">\(htmlEscaped(message))</p>") }
        if step.evidence.isEmpty { out.append("<p>No calls.</p>") }
        for call in step.evidence {
            out.append(
                "<pre class=\"call\">"
                    + htmlEscaped(
                        "\(call.call)(\(call.arguments.joined(separator: ", "))) -> \(call.status) in "
                            + CaseWording.seconds(call.durationSeconds)
                    ) + "</pre>"
            )
            // A newline right after <pre> is dropped by the parser: this one, so the text keeps its own.
            if !call.output.isEmpty { out.append("<pre class=\"output\">\n\(htmlEscaped(call.output))</pre>") }
            if !call.error.isEmpty { out.append("<pre class=\"error\">\n\(htmlEscaped(call.error))</pre>") }
        }
        out.append("</details>")
        return out
    }
}
