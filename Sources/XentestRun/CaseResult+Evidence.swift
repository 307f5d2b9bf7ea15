import Foundation
import XentestPlan
import XentestSupport

extension CaseResult {
    /// The steps and teardown of the case as evidence text (`cases/<id>/evidence.txt`, and the reports' excerpts):
    /// each call with its arguments, status and output.
    public var evidenceText: String {
        var lines: [String] = []
        for step in steps + teardown {
            var line =
                "[\(step.status.rawValue)] \(step.label) (expect \(step.expected); \(Self.seconds(step.durationSeconds))"
            if step.attempts > 1 { line += ", \(step.attempts) attempts" }
            line += ")"
            if let message = step.message { line += ": \(message)" }
            lines.append(line)
            for call in step.evidence {
                let arguments = call.arguments.map { $0.count > 200 ? String($0.prefix(200)) + "…" : $0 }
                lines.append(
                    "    \(call.call)(\(arguments.joined(separator: ", "))) -> \(call.status) in \(Self.seconds(call.durationSeconds))"
                )
                if !call.output.isEmpty {
                    lines.append("      output: " + call.output.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                if !call.error.isEmpty {
                    lines.append("      error: " + call.error.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3fs", value) }
}
