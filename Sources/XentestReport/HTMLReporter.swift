import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// `report.html`: the run on one page that opens from disk: its summary, the host's facts, a table of cases per
/// area, and each case that did not pass with its failing step, its evidence and the toolstack's logs, folded in
/// `<details>`.
///
/// One file with its style inline and no script: nothing to fetch, so it can be mailed or attached as it is. Every
/// text of the result is escaped (`htmlEscaped`): it holds guest console output and toolstack messages. A
/// Content-Security-Policy that allows no script is there besides, should an escape ever be missed. Each status is
/// a word as well as a colour.
public enum HTMLReporter {
    /// `result` as an HTML5 document ending in a newline; a pure function of the result.
    public static func render(_ result: RunResult) -> String {
        var out = [
            "<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>\(htmlEscaped("xentest: \(result.planTitle) (\(result.release)), run \(result.runID)"))</title>",
            "<style>", HTMLStyle.css, "</style>", "</head>", "<body>",
        ]
        out += summary(result)
        out += ["<section id=\"host\">", "<h2>Host</h2>"] + facts(HostFactsRenderer.rows(result.host)) + ["</section>"]
        out += areas(result)
        out += details(result)
        out += ["</body>", "</html>"]
        return out.joined(separator: "\n") + "\n"
    }

    /// The heading with the counts, the exit status, the run's facts and a count per status (all eight, zeros too).
    static func summary(_ result: RunResult) -> [String] {
        let summary = result.summary
        let counts = CaseStatus.allCases.filter { summary.count(of: $0) > 0 }
            .map { "\(summary.count(of: $0)) \($0.rawValue)" }
        var out = [
            "<header>",
            "<h1>\(htmlEscaped(result.planTitle)): \(counts.joined(separator: ", "))"
                + (result.interrupted ? " (interrupted)" : "") + "</h1>",
            "<p class=\"exit exit-\(result.exitStatus.rawValue)\" id=\"exit-status\">\(exitWords(result))</p>",
        ]
        if result.nothingTested {
            out.append(
                "<p class=\"notice\"><strong>Nothing was tested</strong>: every case was skipped on this host; each "
                    + "one's reason is in the tables below.</p>"
            )
        }
        out.append("</header>")
        var rows = [
            ("Plan", "\(result.plan) (\(result.planTitle))"), ("Release under test", result.release),
            ("Run", result.runID), ("Started", ISO8601.format(result.startedAt)),
            (
                "Finished",
                "\(ISO8601.format(result.finishedAt)), after "
                    + CaseWording.seconds(result.finishedAt.timeIntervalSince(result.startedAt))
            ), ("xentest", result.xentestVersion), ("Host file", result.hostConfig),
        ]
        if let baseline = result.baseline {
            rows.append(
                (
                    "Baseline",
                    MarkdownSummaryReporter.baselineRun(baseline).replacingOccurrences(of: "`", with: "") + ": "
                        + baseline.changeCounts
                )
            )
        }
        out += ["<section id=\"summary\">", "<h2>Summary</h2>"] + facts(rows)
        out += [
            "<table class=\"counts\" id=\"counts\">", "<thead><tr><th>Status</th><th>Cases</th></tr></thead>",
            "<tbody>",
        ]
        for status in CaseStatus.allCases {
            out.append(
                "<tr id=\"count-\(status.rawValue)\"><td>\(badge(status))</td>"
                    + "<td class=\"count\">\(summary.count(of: status))</td></tr>"
            )
        }
        out += [
            "<tr class=\"total\" id=\"count-total\"><td>total</td><td class=\"count\">\(summary.total)</td></tr>",
            "</tbody>", "</table>", "</section>",
        ]
        return out
    }

    /// A two-column table of facts: a name and its value a row.
    static func facts(_ rows: [(String, String)]) -> [String] {
        var out = ["<table class=\"facts\">", "<tbody>"]
        for (name, value) in rows {
            out.append("<tr><th scope=\"row\">\(htmlEscaped(name))</th><td>\(htmlEscaped(value))</td></tr>")
        }
        out += ["</tbody>", "</table>"]
        return out
    }

    /// A table per area, in the order the areas first appear: case id (linked to its details when it has them),
    /// title, backend, status, duration and reason.
    static func areas(_ result: RunResult) -> [String] {
        var areas: [String] = []
        for testCase in result.cases where !areas.contains(testCase.area) { areas.append(testCase.area) }
        var out: [String] = []
        for (areaIndex, area) in areas.enumerated() {
            out += [
                "<section class=\"area\" id=\"area-\(areaIndex + 1)\">", "<h2>Area \(htmlEscaped(area))</h2>",
                "<table class=\"cases\">",
                "<thead><tr><th>Case</th><th>Title</th><th>Backend</th><th>Status</th><th>Time</th><th>Reason</th>"
                    + "</tr></thead>", "<tbody>",
            ]
            for (index, testCase) in result.cases.enumerated() where testCase.area == area {
                let id = "<code>\(htmlEscaped(testCase.id))</code>"
                out.append(
                    "<tr class=\"case case-\(testCase.status.rawValue)\" id=\"case-\(index + 1)\">"
                        + "<td>\(hasDetails(testCase) ? "<a href=\"#details-\(index + 1)\">\(id)</a>" : id)</td>"
                        + "<td>\(htmlEscaped(testCase.title))</td><td>\(testCase.backend.rawValue)</td>"
                        + "<td>\(badge(testCase.status))</td>"
                        + "<td class=\"time\">\(CaseWording.seconds(testCase.durationSeconds))</td>"
                        + "<td>\(htmlEscaped(testCase.reason ?? ""))</td></tr>"
                )
            }
            out += ["</tbody>", "</table>", "</section>"]
        }
        return out
    }

    /// The status as a word in a coloured badge: failures in capitals, as `summary.md` writes them.
    package static func badge(_ status: CaseStatus) -> String {
        "<span class=\"status status-\(status.rawValue)\">\(word(status))</span>"
    }

    /// `pass`, `FAIL`, `xfail`, `TIMEOUT`: capitals for the statuses that make the exit status 1.
    static func word(_ status: CaseStatus) -> String {
        status.isFailure ? status.rawValue.uppercased() : status.rawValue
    }

    /// What the run's exit status is and means.
    static func exitWords(_ result: RunResult) -> String {
        switch result.exitStatus {
        case .success:
            "Exit status 0: nothing failed" + (result.baseline != nil ? " that had not failed in the baseline" : "")
        case .failed:
            "Exit status 1: a case failed, errored, timed out or passed unexpectedly"
                + (result.baseline != nil ? ", and had not failed in the baseline" : "")
        case .interrupted: "Exit status 130: the run was interrupted; this report is partial"
        case let other: "Exit status \(other.rawValue)"
        }
    }
}
