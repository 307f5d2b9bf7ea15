import Foundation
import XentestReport
import XentestRun

extension Pages {
    /// The hosts, each with its tester and how many runs.
    static func hosts(_ hosts: [StoredHost], runs: [RunRef]) -> String {
        let counts = Dictionary(grouping: runs, by: \.hostID).mapValues(\.count)
        var out = [
            "<table id=\"hosts\">", "<thead><tr><th>Host</th><th>Tester</th><th>Runs</th></tr></thead>", "<tbody>",
        ]
        for host in hosts {
            out.append(
                "<tr><td><a href=\"/hosts/\(host.id)\">\(h(host.ranOn))</a></td><td>\(h(host.tester))</td>"
                    + "<td class=\"count\">\(counts[host.id] ?? 0)</td></tr>"
            )
        }
        out += ["</tbody>", "</table>"]
        return page("Hosts", out)
    }

    /// One host's history: its facts, then a row per case and a column per run (oldest first), each cell the
    /// verdict and its label.
    static func host(_ host: StoredHost, runs: [RunRef], cases: [StoredCase]) -> String {
        let history = CaseHistory(hostRuns: runs, verdicts: cases.map(\.verdict))
        var out = facts(hostFacts(host))
        out += ["<table class=\"history\" id=\"history\">", "<thead><tr><th>Case</th>"]
        for run in runs {
            out.append(
                "<th><a href=\"/runs/\(run.id)\">\(h(run.runID))</a><br>\(h(run.release))<br>\(h(run.startedAt))</th>"
            )
        }
        out += ["</tr></thead>", "<tbody>"]
        let byRunAndCase = Dictionary(
            cases.map { ("\($0.verdict.run.id) \($0.verdict.caseID)", $0.verdict) },
            uniquingKeysWith: { first, _ in first }
        )
        var caseIDs: [String] = []
        for stored in cases where !caseIDs.contains(stored.verdict.caseID) { caseIDs.append(stored.verdict.caseID) }
        for caseID in caseIDs {
            var row = "<tr><th scope=\"row\"><a href=\"/cases/\(segment(caseID))\"><code>\(h(caseID))</code></a></th>"
            for run in runs {
                guard let verdict = byRunAndCase["\(run.id) \(caseID)"] else {
                    row += "<td class=\"none\">—</td>"
                    continue
                }
                row += cell(verdict, label: history.label(for: verdict))
            }
            out.append(row + "</tr>")
        }
        out += ["</tbody>", "</table>"]
        return page("Host \(host.ranOn) (\(host.tester))", out)
    }

    /// One case on every host: a row per run, newest first, with its verdict and label.
    static func caseHistory(_ caseID: String, hosts: [StoredHost], verdicts: [(CaseVerdict, HistoryLabel?)]) -> String {
        var out = [
            "<table class=\"history\" id=\"history\">",
            "<thead><tr><th>Host</th><th>Tester</th><th>Release</th>"
                + "<th>Run</th><th>Started</th><th>Verdict</th></tr></thead>", "<tbody>",
        ]
        let hostByID = Dictionary(uniqueKeysWithValues: hosts.map { ($0.id, $0) })
        for (verdict, label) in verdicts {
            let hostID = verdict.run.hostID
            let host = hostByID[hostID]
            out.append(
                "<tr><td><a href=\"/hosts/\(hostID)\">\(h(host?.ranOn ?? "?"))</a></td><td>\(h(host?.tester ?? ""))</td>"
                    + "<td>\(h(verdict.run.release))</td><td><a href=\"/runs/\(verdict.run.id)\">\(h(verdict.run.runID))</a>"
                    + "</td><td>\(h(verdict.run.startedAt))</td>" + cell(verdict, label: label) + "</tr>"
            )
        }
        out += ["</tbody>", "</table>"]
        return page("Case \(caseID)", out)
    }

    /// A verdict cell, linked to the case in its run, with its label.
    static func cell(_ verdict: CaseVerdict, label: HistoryLabel?) -> String {
        "<td class=\"cell status-cell-\(verdict.status.rawValue)\"><a href=\""
            + caseLink(run: verdict.run.id, caseID: verdict.caseID) + "\">\(badge(verdict.status))</a>"
            + Pages.label(label) + "</td>"
    }

    /// One case in one run: its verdict, reason, failing step, and every step with its evidence, folded.
    static func runCase(_ testCase: CaseResult, run: RunRef, tester: String, result: RunResult) -> String {
        var out = facts([
            ("Run", "\(run.runID) (\(result.plan), \(result.release))"), ("Host", result.toolstackAndHost),
            ("Tester", tester), ("Verdict", testCase.status.rawValue), ("Title", testCase.title),
        ])
        out.append(
            "<p><a href=\"/runs/\(run.id)\">The whole run</a> · <a href=\"/cases/\(segment(testCase.id))\">"
                + "This case on every host</a></p>"
        )
        if let reason = testCase.reason { out.append("<p class=\"reason\">\(h(reason))</p>") }
        if let issue = testCase.knownIssue { out.append("<p class=\"known-issue\">Known issue: \(h(issue))</p>") }
        if let step = CaseWording.failingStep(testCase) { out += HTMLReporter.failingStep(step) }
        out.append("<section id=\"steps\">")
        for step in testCase.steps + testCase.teardown { out += HTMLReporter.folded(step) }
        if testCase.steps.isEmpty && testCase.teardown.isEmpty { out.append("<p>No steps ran.</p>") }
        out.append("</section>")
        return page("\(testCase.id): \(testCase.status.rawValue)", out)
    }
}
