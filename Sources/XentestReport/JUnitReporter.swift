import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// `junit.xml` as Jenkins and GitLab read it: a testsuite per area, a testcase per case and backend.
///
/// JUnit has no expected failures: xfail is reported as skipped with the known issue (pytest does the same), xpass
/// as a failure, timeout and interrupted as errors.
public enum JUnitReporter {
    /// `result` as a JUnit XML document, ending in a newline: the run's properties (release, run id, toolstack,
    /// versions, baseline) on each testsuite, and the evidence of each case as its system-out.
    public static func render(_ result: RunResult) -> String {
        var areas: [String] = []
        for testCase in result.cases where !areas.contains(testCase.area) { areas.append(testCase.area) }
        let totals = counts(result.cases)
        var xml = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<testsuites name=\"\(xmlEscaped("xentest \(result.plan)"))\" tests=\"\(result.cases.count)\" failures=\"\(totals.failures)\" "
                + "errors=\"\(totals.errors)\" skipped=\"\(totals.skipped)\" time=\"\(time(result.cases))\">",
        ]
        for area in areas {
            let cases = result.cases.filter { $0.area == area }
            let areaTotals = counts(cases)
            xml.append(
                "  <testsuite name=\"\(xmlEscaped(area))\" tests=\"\(cases.count)\" failures=\"\(areaTotals.failures)\" "
                    + "errors=\"\(areaTotals.errors)\" skipped=\"\(areaTotals.skipped)\" time=\"\(time(cases))\" "
                    + "timestamp=\"\(ISO8601.format(result.startedAt))\" hostname=\"\(xmlEscaped(result.host.hostname))\">"
            )
            xml.append("    <properties>")
            for (name, value) in properties(result) {
                xml.append("      <property name=\"\(xmlEscaped(name))\" value=\"\(xmlEscaped(value))\"/>")
            }
            xml.append("    </properties>")
            for testCase in cases {
                xml.append(
                    "    <testcase classname=\"\(xmlEscaped("\(result.plan).\(area)"))\" name=\"\(xmlEscaped("\(testCase.id) [\(testCase.backend.rawValue)]"))\" "
                        + "time=\"\(String(format: "%.3f", testCase.durationSeconds))\">"
                )
                let message = xmlEscaped(testCase.reason ?? testCase.status.rawValue)
                switch testCase.status {
                case .pass: break
                case .skip: xml.append("      <skipped message=\"\(message)\"/>")
                case .xfail: xml.append("      <skipped message=\"xfail: \(message)\"/>")
                case .fail, .xpass:
                    xml.append(
                        "      <failure message=\"\(message)\" type=\"\(testCase.status.rawValue)\">\(xmlEscaped(failureDetail(testCase)))</failure>"
                    )
                case .error, .timeout, .interrupted:
                    xml.append(
                        "      <error message=\"\(message)\" type=\"\(testCase.status.rawValue)\">\(xmlEscaped(failureDetail(testCase)))</error>"
                    )
                }
                let evidence = testCase.evidenceText
                if !evidence.isEmpty { xml.append("      <system-out>\(xmlEscaped(evidence))</system-out>") }
                xml.append("    </testcase>")
            }
            xml.append("  </testsuite>")
        }
        xml.append("</testsuites>")
        return xml.joined(separator: "\n") + "\n"
    }

    static func properties(_ result: RunResult) -> [(String, String)] {
        var properties = [
            ("release", result.release), ("run-id", result.runID), ("toolstack", result.host.toolstack),
            ("xentest", result.xentestVersion),
        ]
        if let xen = result.host.xenVersion { properties.append(("xen", xen)) }
        if let uri = result.host.libvirtURI { properties.append(("libvirt-uri", uri)) }
        if let kernel = result.host.kernel { properties.append(("kernel", kernel)) }
        if let baseline = result.baseline {
            properties.append(
                ("baseline", MarkdownSummaryReporter.baselineRun(baseline).replacingOccurrences(of: "`", with: ""))
            )
            properties.append(("baseline-changes", baseline.changeCounts))
            properties.append(("baseline-failing-the-run", baseline.blocking.map(\.id).joined(separator: " ")))
        }
        return properties
    }

    static func failureDetail(_ testCase: CaseResult) -> String {
        guard let step = CaseWording.failingStep(testCase) else { return testCase.reason ?? "" }
        return "step \(step.index + 1) (\(step.label)): \(CaseWording.expectedAndSeen(step))"
    }

    static func counts(_ cases: [CaseResult]) -> (failures: Int, errors: Int, skipped: Int) {
        (
            cases.filter { $0.status == .fail || $0.status == .xpass }.count,
            cases.filter { [.error, .timeout, .interrupted].contains($0.status) }.count,
            cases.filter { $0.status == .skip || $0.status == .xfail }.count
        )
    }

    static func time(_ cases: [CaseResult]) -> String {
        String(format: "%.3f", cases.reduce(0) { $0 + $1.durationSeconds })
    }
}
