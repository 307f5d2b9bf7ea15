import Foundation
import XentestReport
import XentestRun

extension Pages {
    /// The release matrix: a column per host with its facts, a row per case, each cell the verdict (linked to the
    /// case's steps and evidence in that run) and its history label.
    static func matrix(_ matrix: ReleaseMatrix) -> String {
        let release = segment(matrix.release)
        var out = [
            "<p><a href=\"/releases/\(release)/regressions\">Regressions against the previous release candidate</a> · "
                + "<a href=\"/api/releases/\(release)/matrix\">JSON</a></p>"
        ]
        guard !matrix.columns.isEmpty else { return page("Release \(matrix.release)", out + ["<p>No runs.</p>"]) }
        out += ["<table class=\"matrix\" id=\"matrix\">", "<thead>"]
        // Each column's facts once, not once for every row of facts.
        let facts = matrix.columns.map { hostFacts($0.host) }
        for (index, name) in facts[0].map(\.0).enumerated() {
            var row = "<tr><th scope=\"row\">\(h(name))</th>"
            for (column, columnFacts) in zip(matrix.columns, facts) {
                let value = columnFacts[index].1
                row +=
                    index == 0
                    ? "<th class=\"host\" id=\"host-\(column.host.id)\"><a href=\"/hosts/\(column.host.id)\">\(h(value))</a></th>"
                    : "<th class=\"host\">\(h(value))</th>"
            }
            out.append(row + "</tr>")
        }
        var runs = "<tr><th scope=\"row\">Run</th>"
        for column in matrix.columns {
            let more = column.runs > 1 ? " (newest of \(column.runs))" : ""
            runs += "<th class=\"host\"><a href=\"/runs/\(column.run.id)\">\(h(column.run.runID))</a>\(more)</th>"
        }
        out += [runs + "</tr>", "</thead>", "<tbody>"]
        var area = ""
        for row in matrix.rows {
            if row.area != area {
                area = row.area
                out.append("<tr class=\"area\"><th colspan=\"\(matrix.columns.count + 1)\">Area \(h(area))</th></tr>")
            }
            var line =
                "<tr class=\"case\" id=\"case-\(h(row.caseID))\"><th scope=\"row\"><a href=\"/cases/\(segment(row.caseID))\">"
                + "<code>\(h(row.caseID))</code></a></th>"
            for cell in row.cells {
                guard let cell else {
                    line += "<td class=\"cell none\">not in plan</td>"
                    continue
                }
                line +=
                    "<td class=\"cell status-cell-\(cell.verdict.status.rawValue)\"><a href=\""
                    + caseLink(run: cell.verdict.run.id, caseID: row.caseID) + "\">\(badge(cell.verdict.status))</a>"
                    + label(cell.label) + "</td>"
            }
            out.append(line + "</tr>")
        }
        out += ["</tbody>", "</table>"]
        return page("Release \(matrix.release)", out)
    }

    /// Regressions against the previous release candidate, host by host: the classes `--baseline` gives.
    static func regressions(release: String, hosts: [(StoredHost, RunRef, RunRef?, BaselineComparison?)]) -> String {
        var out: [String] = []
        for (host, run, baseline, comparison) in hosts {
            out.append("<section class=\"host\" id=\"host-\(host.id)\">")
            out.append(
                "<h2><a href=\"/hosts/\(host.id)\">\(h(host.ranOn))</a> (\(h(host.tester))): run "
                    + "<a href=\"/runs/\(run.id)\">\(h(run.runID))</a></h2>"
            )
            guard let baseline, let comparison else {
                out += [
                    "<p class=\"notice\">No earlier release was run on this host: baseline untested.</p>", "</section>",
                ]
                continue
            }
            out.append(
                "<p>Against <a href=\"/runs/\(baseline.id)\">\(h(baseline.runID))</a> (\(h(baseline.release))): "
                    + "\(h(comparison.changeCounts))</p>"
            )
            let changed = comparison.cases.filter { $0.change != .unchanged }
            if !changed.isEmpty {
                out += [
                    "<table class=\"changes\">",
                    "<thead><tr><th>Case</th><th>Before</th><th>Now</th><th>Change</th>" + "</tr></thead>", "<tbody>",
                ]
                for change in changed {
                    out.append(
                        "<tr class=\"change-\(change.change.rawValue)\"><td><a href=\""
                            + caseLink(run: run.id, caseID: change.id) + "\"><code>\(h(change.id))</code></a></td>"
                            + "<td>\(change.before.map(badge) ?? "not tried")</td><td>\(badge(change.now))</td>"
                            + "<td>\(change.change == .regression ? "<strong>REGRESSION</strong>" : change.change.rawValue)</td></tr>"
                    )
                }
                out += ["</tbody>", "</table>"]
            }
            out.append("</section>")
        }
        if hosts.isEmpty { out.append("<p>No runs of this release.</p>") }
        return page("Regressions in \(release)", out)
    }
}
