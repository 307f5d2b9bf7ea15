import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// `xentest facts`: a host's facts as a run collects them, for a tester to check before running (text), or for
/// tools (JSON, as in `report.json`'s `host`).
public enum HostFactsRenderer {
    /// One fact a line, as `summary.md` words them.
    public static func text(_ facts: HostFacts) -> String {
        let rows = rows(facts)
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }
            .joined(separator: "\n") + "\n"
    }

    /// The facts as (name, value) pairs, in the order `text` prints them; the HTML report's host table too.
    package static func rows(_ facts: HostFacts) -> [(String, String)] {
        func yesNo(_ value: Bool?) -> String { value.map { $0 ? "yes" : "no" } ?? "unknown" }
        var rows: [(String, String)] = [
            ("Host", facts.hostname), ("Toolstack", MarkdownSummaryReporter.toolstack(facts)),
            ("Xen", facts.xenVersion ?? "not Xen"), ("dom0 kernel", facts.kernel ?? "n/a"),
        ]
        if let distribution = facts.distribution { rows.append(("Distribution", distribution)) }
        rows += [
            ("Hardware", MarkdownSummaryReporter.hardware(facts)), ("IOMMU", yesNo(facts.iommu)),
            ("HVM guests", yesNo(facts.hvm)), ("PVH guests", yesNo(facts.pvh)),
            ("Bridges", facts.bridges.isEmpty ? "none" : facts.bridges.joined(separator: " ")),
            ("Guest code", facts.runsGuestCode ? "runs" : "does not run (simulated host)"),
        ]
        if let devices = facts.pciDevicesWithoutReset, !devices.isEmpty {
            rows.append(("No reset", devices.joined(separator: " ")))
        }
        if let source = facts.factsSource { rows.append(("Facts from", source)) }
        return rows
    }

    /// The facts as JSON, keys sorted.
    public static func json(_ facts: HostFacts) -> String {
        let encoder = JSONCoders.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(facts) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
