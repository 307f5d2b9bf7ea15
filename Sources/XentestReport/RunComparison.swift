import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// Runs of a plan side by side, one column per run (a toolstack on a host): each case's verdict in each, and the
/// cases whose verdicts disagree among the runs that ran them.
///
/// The same plan through xl and through libvirt, or on the simulated host, QEMU and real Xen, must give the same
/// verdicts where both ran a case: a case that passes on one and fails on the other is either a toolstack bug or a
/// harness bug, and the comparison names it. A skip is not a verdict on the case (the run could not try it), so it
/// never makes a difference; xfail counts as failed and xpass as passed, as the case itself did.
public struct RunComparison: Sendable {
    /// One run: what the column is headed with, and its result.
    public struct Column: Sendable {
        /// The column's heading: the run's toolstack and host (`RunResult.toolstackAndHost`); for runs that share
        /// those, also the host's name and when the run started, so that no two columns are headed alike.
        public var label: String
        /// The run's result.
        public var result: RunResult
    }

    /// One case across the runs.
    public struct Row: Sendable, Equatable {
        /// The case's id.
        public var id: String
        /// The case's area, as the first run that has the case gives it.
        public var area: String
        /// Per column; nil when that run's plan has no such case.
        public var verdicts: [CaseStatus?]
        /// The runs that tried the case do not agree on whether it worked.
        public var differs: Bool
    }

    /// The runs, in the order given.
    public let columns: [Column]
    /// Every case of any run, in the order first seen: the first run's cases, then those only later runs have.
    public let rows: [Row]

    /// Compares `results`, one column each, in that order.
    public init(_ results: [RunResult]) {
        let plainLabels = results.map(\.toolstackAndHost)
        columns = zip(plainLabels, results)
            .map { label, result in
                guard plainLabels.filter({ $0 == label }).count > 1 else { return Column(label: label, result: result) }
                let host = label.hasSuffix(" on \(result.host.hostname)") ? "" : " on \(result.host.hostname)"
                return Column(label: "\(label)\(host), \(ISO8601.format(result.startedAt))", result: result)
            }
        var ids: [String] = []
        var areas: [String: String] = [:]
        for result in results {
            for testCase in result.cases where areas[testCase.id] == nil {
                ids.append(testCase.id)
                areas[testCase.id] = testCase.area
            }
        }
        rows = ids.map { id in
            let verdicts = results.map { result in result.cases.first { $0.id == id }?.status }
            let outcomes = Set(verdicts.compactMap { $0?.outcome })
            return Row(id: id, area: areas[id] ?? "", verdicts: verdicts, differs: outcomes.count > 1)
        }
    }

    /// The rows whose verdicts differ.
    public var differences: [Row] { rows.filter(\.differs) }

    /// A Markdown table, then the runs compared and the differences.
    public func markdown() -> String {
        let cell = MarkdownSummaryReporter.cell
        var out = [
            "| Case | " + columns.map { cell($0.label) }.joined(separator: " | ") + " | |",
            "|---|" + String(repeating: "---|", count: columns.count + 1),
        ]
        for row in rows {
            let verdicts = row.verdicts.map { $0.map(MarkdownSummaryReporter.badge) ?? "(not in plan)" }
            out.append(
                "| \(cell(row.id)) | " + verdicts.joined(separator: " | ") + " | " + (row.differs ? "**differs**" : "")
                    + " |"
            )
        }
        out += ["", "Runs compared:"]
        for column in columns {
            let result = column.result
            let counts = CaseStatus.allCases.filter { result.summary.count(of: $0) > 0 }
                .map { "\(result.summary.count(of: $0)) \($0.rawValue)" }.joined(separator: ", ")
            out.append(
                "- \(column.label): plan \(result.plan) (\(result.release)), run `\(result.runID)` at "
                    + "\(ISO8601.format(result.startedAt)): \(counts)"
            )
        }
        let plans = Set(columns.map(\.result.plan))
        if plans.count > 1 {
            out += ["", "The runs are of different plans (\(plans.sorted().joined(separator: ", ")))."]
        }
        out.append("")
        if differences.isEmpty {
            out.append("Every case gives the same verdict on every run that tried it (skips aside).")
        } else {
            out.append(differences.count == 1 ? "1 case differs:" : "\(differences.count) cases differ:")
            for row in differences {
                let seen = zip(columns, row.verdicts)
                    .compactMap { column, verdict -> String? in
                        guard let verdict, let testCase = column.result.cases.first(where: { $0.id == row.id }) else {
                            return nil
                        }
                        return "\(column.label): \(verdict.rawValue)" + (testCase.reason.map { " (\($0))" } ?? "")
                    }
                out.append("- \(row.id): " + seen.joined(separator: "; "))
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
