import XentestPlan
import XentestRun
import XentestSupport
/// Renders a plan's cases as a table for `xentest list PLAN`: id, area, backends, prerequisites.
public enum PlanListing {
    /// Tab-separated columns with a header line; stable for scripts.
    public static func render(_ plan: Plan) -> String {
        var lines = ["\(plan.title) (\(plan.release)): \(plan.cases.count) cases", "ID\tAREA\tBACKENDS\tNEEDS"]
        for testCase in plan.cases {
            let needs =
                testCase.requirements.isEmpty ? "-" : testCase.requirements.map(\.description).joined(separator: ", ")
            lines.append(
                [testCase.id, testCase.area, testCase.backends.map(\.rawValue).joined(separator: ","), needs]
                    .joined(separator: "\t")
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
