import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// KCIDB JSON (KernelCI's common results schema, v5.3 as kcidb-io validates it): the run as a checkout (the Xen
/// release under test), a build (the host: its Xen, dom0 kernel and toolstack), a test per case, and each known
/// issue with its incidents.
///
/// Every object's origin is `xentest` and its id `xentest:` and the run's id: `xentest:<run id>` for the checkout and
/// the build, `xentest:<run id>:<case id>` for a case (and its incident). A known issue's id is made from its text,
/// so the same issue has the same id in every run. A test's path is `xentest.<plan>.<area>.<case id>`, each part
/// with what a path may not hold (anything but letters, digits, `_` and `-`) made `_`.
///
/// Statuses: pass PASS; fail FAIL; xfail FAIL with an incident of its known issue (present); xpass PASS with an
/// incident saying the issue was absent, and `misc` saying so; skip SKIP; error and timeout ERROR (the test could
/// not say whether Xen works); interrupted MISS (it did not run). xentest's own status is in each test's `misc`.
public enum KCIDBReporter {
    /// The `origin` of every object, and the start of every id.
    static let origin = "xentest"

    /// The most a `log_excerpt` may hold (in Unicode scalars, as the schema's `maxLength` counts).
    static let excerptLimit = 16384

    /// `result` as pretty-printed KCIDB JSON, keys sorted, ending in a newline; a pure function of the result.
    public static func render(_ result: RunResult) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(report(result)) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The report's objects.
    static func report(_ result: RunResult) -> KCIDBReport {
        let runID = "\(origin):\(text(result.runID))"
        var report = KCIDBReport()
        report.checkouts = [checkout(result, id: runID)]
        report.builds = [build(result, id: runID)]
        let ids = Dictionary(grouping: result.cases, by: \.id)
        for testCase in result.cases {
            // A case is in a run once per backend it ran on; the backend joins its id only when it is there twice.
            let caseID =
                runID + ":" + text(testCase.id)
                + (ids[testCase.id, default: []].count > 1 ? ":\(testCase.backend.rawValue)" : "")
            report.tests.append(test(testCase, of: result, id: caseID, buildID: runID))
            guard testCase.status == .xfail || testCase.status == .xpass, let known = testCase.knownIssue else {
                continue
            }
            let issue = issue(known)
            if !report.issues.contains(where: { $0.id == issue.id }) { report.issues.append(issue) }
            report.incidents.append(
                KCIDBReport.Incident(
                    id: caseID,
                    origin: origin,
                    issueId: issue.id,
                    issueVersion: issue.version,
                    testId: caseID,
                    present: testCase.status == .xfail,
                    comment: text(testCase.reason ?? testCase.status.rawValue)
                )
            )
        }
        return report
    }

    /// The Xen release under test, as the plan names it, and the Xen the host runs.
    static func checkout(_ result: RunResult, id: String) -> KCIDBReport.Checkout {
        var misc: KCIDBReport.Misc = [
            "plan": .string(text(result.plan)), "plan_title": .string(text(result.planTitle)),
            "release": .string(text(result.release)),
        ]
        if let xen = result.host.xenVersion { misc["xen_version"] = .string(text(xen)) }
        let running =
            result.host.xenVersion.map { "the host runs Xen \($0)" }
            ?? "the host runs no Xen (\(result.host.toolstack))"
        return KCIDBReport.Checkout(
            id: id,
            origin: origin,
            comment: text("Xen \(result.release), plan \(result.plan) (\(result.planTitle)); \(running)"),
            startTime: ISO8601.format(result.startedAt),
            originTestsFinishTime: result.interrupted ? nil : ISO8601.format(result.finishedAt),
            // xentest tests a Xen that is installed and booted, so there was a checkout and it worked.
            valid: true,
            misc: misc
        )
    }

    /// The host: its name, toolstack, Xen, dom0 kernel and hardware. PASS: it booted and answered for its facts.
    static func build(_ result: RunResult, id: String) -> KCIDBReport.Build {
        let host = result.host
        var misc: KCIDBReport.Misc = [
            "hostname": .string(text(host.hostname)), "toolstack": .string(text(host.toolstack)),
            "cpus": .int(host.cpus), "memory_mib": .int(host.totalMemoryMiB),
            "host_file": .string(text(result.hostConfig)), "xentest_version": .string(text(result.xentestVersion)),
            "runs_guest_code": .bool(host.runsGuestCode),
        ]
        let optional: [(String, String?)] = [
            ("xen_version", host.xenVersion), ("dom0_kernel", host.kernel), ("machine", host.cpuModel),
            ("hypervisor_version", host.hypervisorVersion), ("libvirt_uri", host.libvirtURI),
            ("libvirt_driver", host.libvirtDriver), ("libvirt_version", host.libvirtVersion),
        ]
        for (key, value) in optional { if let value { misc[key] = .string(text(value)) } }
        if let free = host.freeMemoryMiB { misc["free_memory_mib"] = .int(free) }
        if !host.virtCaps.isEmpty { misc["virt_caps"] = .strings(host.virtCaps.map(text)) }
        let facts = [
            host.xenVersion.map { "Xen \($0)" } ?? "not Xen",
            host.kernel.map { "dom0 kernel \($0)" } ?? "dom0 kernel n/a", MarkdownSummaryReporter.toolstack(host),
        ]
        return KCIDBReport.Build(
            id: id,
            checkoutId: id,
            origin: origin,
            comment: text("\(host.hostname): " + facts.joined(separator: "; ")),
            startTime: ISO8601.format(result.startedAt),
            architecture: architecture(host.cpuModel),
            configName: text(MarkdownSummaryReporter.toolstack(host)),
            status: "PASS",
            misc: misc
        )
    }

    /// The machine (`x86_64`) as the schema's architecture (`^[a-z0-9_]*$`); nil when it is not one.
    static func architecture(_ machine: String?) -> String? {
        guard let machine, !machine.isEmpty,
            machine.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else { return nil }
        return machine
    }

    /// Text as the schema takes it: no NUL anywhere (`^[^\0]*$`).
    static func text(_ value: String) -> String {
        value.contains("\0") ? value.replacingOccurrences(of: "\0", with: "") : value
    }
}
