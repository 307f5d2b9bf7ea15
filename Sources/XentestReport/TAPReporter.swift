import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// TAP version 13: `ok`/`not ok` per case; skip as `# SKIP`, xfail as `not ok # TODO`, xpass as `ok # TODO`.
public enum TAPReporter {
    /// `result` as TAP version 13, one test point per case in the result's order; a case that failed, errored, timed
    /// out or was interrupted gets a YAML block with its status and reason.
    public static func render(_ result: RunResult) -> String {
        var out = ["TAP version 13", "1..\(result.cases.count)"]
        for (index, testCase) in result.cases.enumerated() {
            let name = "\(testCase.id) [\(testCase.backend.rawValue)]"
            let reason = (testCase.reason ?? "").replacingOccurrences(of: "\n", with: " ")
                .replacingOccurrences(of: "#", with: "\\#")
            let number = index + 1
            switch testCase.status {
            case .pass: out.append("ok \(number) - \(name)")
            case .skip: out.append("ok \(number) - \(name) # SKIP \(reason)")
            case .xfail: out.append("not ok \(number) - \(name) # TODO \(reason)")
            case .xpass: out.append("ok \(number) - \(name) # TODO \(reason)")
            default:
                out.append("not ok \(number) - \(name)")
                out += ["  ---", "  status: \(testCase.status.rawValue)", "  message: \(yamlQuoted(reason))", "  ..."]
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func yamlQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
