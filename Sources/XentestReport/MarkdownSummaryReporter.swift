import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// `summary.md`: what a tester pastes into the TestDay thread: the host's facts, a table per area, and each
/// failure with its failing step and an excerpt of the evidence.
public enum MarkdownSummaryReporter {
    /// `result` as Markdown: a table of the run's facts, a table of cases per area, the changes since the baseline if
    /// there is one, and each failure with its failing step and the last 12 lines of its evidence.
    public static func render(_ result: RunResult) -> String {
        let summary = result.summary
        let counts = CaseStatus.allCases.filter { summary.count(of: $0) > 0 }
            .map { "\(summary.count(of: $0)) \($0.rawValue)" }
        var out = [
            "## \(result.planTitle): \(counts.joined(separator: ", "))" + (result.interrupted ? " (interrupted)" : ""),
            "", "| | |", "|---|---|", "| Release under test | \(cell(result.release)) |",
            "| Xen | \(cell(result.host.xenVersion ?? "not Xen (\(result.host.toolstack))")) |",
            "| dom0 kernel | \(cell(result.host.kernel ?? "n/a")) |", "| Hardware | \(cell(hardware(result.host))) |",
            "| Toolstack | \(cell(toolstack(result.host))) |", "| Host file | \(cell(result.hostConfig)) |",
            "| Run | `\(result.runID)`, \(ISO8601.format(result.startedAt)), \(CaseWording.seconds(result.finishedAt.timeIntervalSince(result.startedAt))), xentest \(result.xentestVersion) |",
        ]
        if let distribution = result.host.distribution {
            out.insert(
                "| Distribution | \(cell(distribution)) |",
                at: out.firstIndex { $0.hasPrefix("| Hardware") } ?? out.count
            )
        }
        if let baseline = result.baseline { out.append("| Baseline | \(cell(baselineRun(baseline))) |") }
        if result.nothingTested {
            out += [
                "",
                "> **Nothing was tested**: every case was skipped on this host; each one's reason is in the tables "
                    + "below.",
            ]
        }
        var areas: [String] = []
        for testCase in result.cases where !areas.contains(testCase.area) { areas.append(testCase.area) }
        for area in areas {
            out += ["", "### \(area)", "", "| Case | Backend | Result | Time | Notes |", "|---|---|---|---|---|"]
            for testCase in result.cases where testCase.area == area {
                out.append(
                    "| \(cell(testCase.id)) | \(testCase.backend.rawValue) | \(badge(testCase.status)) | "
                        + "\(CaseWording.seconds(testCase.durationSeconds)) | \(cell(testCase.reason ?? "")) |"
                )
            }
        }
        if let baseline = result.baseline { out += sinceBaseline(baseline) }
        let failures = result.cases.filter { $0.status.isFailure }
        if !failures.isEmpty {
            out += ["", "### Failures"]
            for testCase in failures {
                out += ["", "#### \(testCase.id) (\(testCase.backend.rawValue)): \(testCase.title)", ""]
                if let then = result.baseline?.cases.first(where: { $0.id == testCase.id && !$0.blocking })?.before {
                    out += ["Also \(then.rawValue) in the baseline: not failing the run.", ""]
                }
                if let step = CaseWording.failingStep(testCase) {
                    out.append("Failing step \(step.index + 1), `\(step.label)`: \(CaseWording.expectedAndSeen(step)).")
                } else {
                    out.append(testCase.reason ?? testCase.status.rawValue)
                }
                let evidence = testCase.evidenceText.split(separator: "\n").suffix(12).joined(separator: "\n")
                if !evidence.isEmpty { out += ["", "```", evidence, "```"] }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// `run `3fa9c1` of rc5 (4.3.0-rc5), xl (Xen 4.17.7) on xen1, 2026-11-20T09:00:00.000Z`
    static func baselineRun(_ baseline: BaselineComparison) -> String {
        "run `\(baseline.runID)` of \(baseline.plan) (\(baseline.release)), \(baseline.ranOn), \(ISO8601.format(baseline.startedAt))"
    }

    /// Each case whose standing changed since the baseline, or that still fails, and which cases fail the run.
    static func sinceBaseline(_ baseline: BaselineComparison) -> [String] {
        var out = ["", "### Since the baseline", "", "Against \(baselineRun(baseline)): \(baseline.changeCounts)."]
        let listed = baseline.cases.filter { $0.change != .unchanged }
        if !listed.isEmpty {
            out += ["", "| Case | Baseline | Now | Change |", "|---|---|---|---|"]
            for testCase in listed {
                let change = testCase.blocking ? "**\(testCase.change.rawValue)**" : testCase.change.rawValue
                out.append(
                    "| \(cell(testCase.id)) | \(testCase.before.map(badge) ?? "(not in its plan)") | \(badge(testCase.now)) | \(change) |"
                )
            }
        }
        let blocking = baseline.blocking.map(\.id)
        let stillFailing = baseline.cases(.stillFailing).filter(\.now.isFailure).map(\.id)
        out.append("")
        if !blocking.isEmpty {
            out.append("Failing the run: \(blocking.joined(separator: ", ")).")
        } else if !stillFailing.isEmpty {
            out.append("No case fails the run: \(stillFailing.joined(separator: ", ")) failed in the baseline too.")
        } else {
            out.append("No case fails the run.")
        }
        return out
    }

    static func hardware(_ host: HostFacts) -> String {
        "\(host.cpuModel ?? "unknown CPU"), \(host.cpus) CPUs, \(host.totalMemoryMiB) MiB memory"
            + (host.freeMemoryMiB.map { " (\($0) MiB free)" } ?? "")
            + (host.virtCaps.isEmpty ? "" : "; caps: \(host.virtCaps.joined(separator: " "))")
    }

    static func toolstack(_ host: HostFacts) -> String {
        var parts = [host.toolstack]
        if let version = host.libvirtVersion { parts.append("libvirt \(version)") }
        if let uri = host.libvirtURI { parts.append(uri) }
        return parts.joined(separator: ", ")
    }

    static func badge(_ status: CaseStatus) -> String {
        switch status {
        case .pass: "pass"
        case .fail: "**FAIL**"
        case .error: "**ERROR**"
        case .timeout: "**TIMEOUT**"
        case .xpass: "**XPASS**"
        default: status.rawValue
        }
    }

    /// Text safe inside a Markdown table cell.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
