import Foundation
import Testing
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport

/// `report.html` opened from disk in headless Chromium, as a tester opens it: what shows, what folds, what runs.
@Suite("HTML report in a browser") struct HTMLBrowserTests {
    /// `scripts/setup` installs Debian's chromium and chromium-driver and selenium from PyPI.
    static let present =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") && PythonTools.canImport("selenium")

    @Test(
        "the hostile result: markup shows as text, nothing runs or is injected, counts and rows show, details open",
        .enabled(if: present, "needs apt's chromium and chromium-driver, and selenium: pip install selenium")
    ) func hostileReport() throws {
        let result = hostileResult()
        let directory = try ScratchDirectory()
        let report = try directory.write(HTMLReporter.render(result), to: "report.html")
        var counts = Dictionary(
            uniqueKeysWithValues: CaseStatus.allCases.map { ($0.rawValue, result.summary.count(of: $0)) }
        )
        counts["total"] = result.summary.total
        let expectations: [String: Any] = [
            "payload": hostilePayload, "tags": reportTags.sorted(), "counts": counts,
            "row": ["id": "case-2", "texts": ["vcpu-add", "FAIL", "1.500s", hostilePayload]], "details": "details-2",
            "folded": foldedMarker,
        ]
        let expected = try directory.write(
            try JSONSerialization.data(withJSONObject: expectations, options: [.sortedKeys]),
            to: "expected.json"
        )
        let output = try PythonTools.run("check_html.py", [report, expected])
        #expect(output.status == 0, "\(output.text)")
        for line in [
            "ok: control page: the checks see a script run", "ok: control page: the checks see markup",
            "ok: report: no script ran (no alert, no handler)", "ok: report: no element made from the result's text []",
            "ok: report: the payload shows as text: \(hostilePayload)", "ok: report: count of fail is 1, expected 1",
            "ok: report: count of total is 8, expected 8", "ok: report: row case-2 shows 'FAIL'",
            "ok: report: the evidence is folded before a click",
            "ok: report: a click on a <summary> opens its <details>",
            "ok: report: the opened evidence shows '\(foldedMarker)'",
            "ok: report: the opened evidence shows the payload as text",
        ] { #expect(output.text.contains(line), "\(line)\n\(output.text)") }
    }
}
