import Foundation

/// The table, totals and verdicts printed at the end.
enum Report {
    static func render(
        _ measurements: [(memory: PlanMeasurement, journal: PlanMeasurement)],
        repeats: Int,
        warmUp: String,
        virshMilliseconds: Double?
    ) -> String {
        let load =
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
            .joined(separator: " ") ?? "?"
        let header =
            "xentest-bench: libvirt's test driver in-process, a fresh private host per run; median of \(repeats) runs, "
            + "each in a process of its own after one warm-up run of \(warmUp); "
            + "\(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average \(load)"
        var lines = ["", header, ""]
        lines.append(
            "Time per libvirt API call (harness: wall time of Runner.run / API calls in the steps' and teardown's evidence)"
        )
        let widths = [11, 10, 6, 13, 11, 12, 11, 14, 15]
        lines.append(
            row(
                [
                    "plan", "events", "calls", "harness/call", "raw C/call", "harness/raw", "virsh/call",
                    "virsh/harness", "peak RSS",
                ],
                widths
            )
        )
        lines.append(row(["", "", "", "", "", "(aim <= 2x)", "", "(aim >= 20x)", "(aim < 100 MB)"], widths))
        for (memory, journal) in measurements {
            for measurement in [memory, journal] {
                let raw = memory.raw?.perCall
                let virsh = virshMilliseconds.map { $0 / 1000 }
                lines.append(
                    row(
                        [
                            measurement.first.plan, measurement.first.sink == .memory ? "in memory" : "journal",
                            String(measurement.first.apiCalls), duration(measurement.perCall), raw.map(duration) ?? "-",
                            raw.map { String(format: "%.2fx", measurement.perCall / $0) } ?? "-",
                            virsh.map(duration) ?? "not measured",
                            virsh.map { String(format: "%.0fx", $0 / measurement.perCall) } ?? "-",
                            megabytes(measurement.peakRSSKiB),
                        ],
                        widths
                    )
                )
            }
        }
        lines += ["", "Totals (medians)"]
        for (memory, journal) in measurements {
            lines += totals(memory, journal, warmUp: warmUp, virshMilliseconds: virshMilliseconds)
        }
        lines += ["", "Aims"]
        for (memory, journal) in measurements {
            lines += verdicts(memory, journal, virshMilliseconds: virshMilliseconds)
        }
        return lines.joined(separator: "\n")
    }

    static func totals(
        _ memory: PlanMeasurement,
        _ journal: PlanMeasurement,
        warmUp: String,
        virshMilliseconds: Double?
    ) -> [String] {
        let first = memory.first
        let statuses = first.statuses.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let areas = first.casesByArea.sorted { $0.key < $1.key }
            .map { "\($0.key) \(first.runByArea[$0.key] ?? 0)/\($0.value)" }.joined(separator: ", ")
        let run = memory.runSeconds
        let inside = memory.insideCallsSeconds
        var lines = [
            "\(first.plan): \(first.casesRun) of \(first.cases) cases run on the test driver (\(statuses)); "
                + "run per area: \(areas)",
            "  per run: \(first.apiCalls) API calls in \(first.steps) step results (teardown included)",
            "  harness run: \(duration(run)) with events in memory, \(duration(journal.runSeconds)) with the journal and "
                + "evidence files (then \(duration(journal.reportSeconds)) to write report.json, junit.xml, summary.md)",
            "  in memory: \(duration(inside)) inside the recorded libvirt calls (the evidence's own durations), "
                + "\(duration(run - inside)) in the harness around them, \(duration((run - inside) / Double(max(first.steps, 1)))) "
                + "per step",
        ]
        if first.plan == PlanName.of(warmUp) {
            lines.append(
                "  first run in a fresh process (the warm-up, cold): \(duration(memory.warmUpSeconds)) in memory"
            )
        }
        if let raw = memory.raw {
            lines.append(
                "  raw C API: \(duration(median(raw.seconds))) for the same \(raw.calls) calls "
                    + "(\(raw.failedCalls) failed, as in the harness, which recorded \(raw.harnessFailedCalls) failed)"
            )
        }
        if let virshMilliseconds {
            let total = Double(first.apiCalls) * virshMilliseconds / 1000
            lines.append(
                "  virsh, one process per call: \(first.apiCalls) x \(duration(virshMilliseconds / 1000)) = "
                    + "\(duration(total)) (estimate from the per-call cost libvirt-ops.sh measured)"
            )
        }
        if let breakdown = memory.journalBreakdown {
            let record = median(breakdown.recordSeconds)
            let journalOnly = median(breakdown.journalSeconds)
            let fold = median(breakdown.foldSeconds)
            lines.append(
                "  journal sink, the run's \(breakdown.events) events fed again to ResultsDirectory.record: \(duration(record))"
                    + " = Journal.append \(duration(journalOnly)) (\(duration(journalOnly / Double(max(breakdown.events, 1)))) "
                    + "per event) + RunResultBuilder.result() at \(breakdown.caseEnds) case ends \(duration(fold)) "
                    + "+ evidence files and the rest \(duration(max(record - journalOnly - fold, 0)))"
            )
        }
        let calls = first.callsByName.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
        lines.append("  calls: " + calls.joined(separator: ", "))
        return lines
    }

    static func verdicts(_ memory: PlanMeasurement, _ journal: PlanMeasurement, virshMilliseconds: Double?) -> [String]
    {
        func met(_ ok: Bool) -> String { ok ? "MET" : "MISSED" }
        let plan = memory.first.plan
        var lines: [String] = []
        if let raw = memory.raw?.perCall {
            let ratios = (memory: memory.perCall / raw, journal: journal.perCall / raw)
            lines.append(
                "  \(plan), harness within 2x of the raw C API: in memory \(met(ratios.memory <= 2)) "
                    + String(format: "(%.2fx)", ratios.memory) + ", with the journal \(met(ratios.journal <= 2)) "
                    + String(format: "(%.2fx)", ratios.journal)
            )
        }
        if let virshMilliseconds {
            let virsh = virshMilliseconds / 1000
            let ratios = (memory: virsh / memory.perCall, journal: virsh / journal.perCall)
            lines.append(
                "  \(plan), virsh script at least 20x slower than the harness: in memory \(met(ratios.memory >= 20)) "
                    + String(format: "(%.0fx)", ratios.memory) + ", with the journal \(met(ratios.journal >= 20)) "
                    + String(format: "(%.0fx)", ratios.journal)
            )
        } else {
            lines.append("  \(plan), virsh: not measured (pass --virsh-ms; libvirt-ops.sh does)")
        }
        let limit = 100 * 1024
        lines.append(
            "  \(plan), peak RSS under 100 MB: in memory \(met(memory.peakRSSKiB < limit)) "
                + "(\(megabytes(memory.peakRSSKiB))), with the journal \(met(journal.peakRSSKiB < limit)) "
                + "(\(megabytes(journal.peakRSSKiB)))"
        )
        return lines
    }

    /// Seconds in the unit that reads best.
    static func duration(_ seconds: Double) -> String {
        if seconds < 0.001 { return String(format: "%.1f µs", seconds * 1e6) }
        if seconds < 1 { return String(format: "%.2f ms", seconds * 1e3) }
        return String(format: "%.2f s", seconds)
    }

    static func megabytes(_ kib: Int) -> String { String(format: "%.1f MB", Double(kib) / 1024) }

    /// Cells left-aligned in columns of `widths`, without trailing spaces.
    static func row(_ cells: [String], _ widths: [Int]) -> String {
        let padded = zip(cells, widths)
            .map { cell, width in cell.padding(toLength: max(width, cell.count + 1), withPad: " ", startingAt: 0) }
        return String(padded.joined().reversed().drop { $0 == " " }.reversed())
    }
}

/// A plan's name as the loader gives it: the file name without `.yaml`.
enum PlanName {
    static func of(_ path: String) -> String {
        let file = URL(fileURLWithPath: path).lastPathComponent
        return file.hasSuffix(".yaml") ? String(file.dropLast(5)) : file
    }
}
