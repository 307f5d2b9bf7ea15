import Foundation
import Logging
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// A result with every status and text that XML, Markdown and TAP must escape; fixed times, so renders are stable.
func sampleResult() -> RunResult {
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    func evidence(_ call: String, _ status: Int, error: String = "") -> Evidence {
        Evidence(
            kind: "api",
            call: call,
            arguments: ["xentest-r1-x"],
            status: status,
            error: error,
            durationSeconds: 0.012
        )
    }
    func step(_ index: Int, _ label: String, _ status: CaseStatus, _ message: String? = nil, calls: [Evidence])
        -> StepResult
    {
        StepResult(
            index: index,
            label: label,
            expected: "succeeds",
            status: status,
            message: message,
            durationSeconds: 0.25,
            attempts: 1,
            evidence: calls
        )
    }
    func testCase(_ id: String, _ area: String, _ status: CaseStatus, _ reason: String?, steps: [StepResult] = [])
        -> CaseResult
    {
        CaseResult(
            id: id,
            title: "Title of \(id) <with & \"quotes\">",
            area: area,
            backend: .libvirt,
            status: status,
            reason: reason,
            knownIssue: status == .xfail || status == .xpass ? "vCPU unplug times out under TCG" : nil,
            durationSeconds: 1.5,
            steps: steps,
            teardown: status == .fail
                ? [step(9, "teardown: domain xentest-r1-x", .pass, calls: [evidence("virDomainDestroy", 0)])] : []
        )
    }
    let cases = [
        testCase(
            "create-destroy",
            "lifecycle",
            .pass,
            nil,
            steps: [step(0, "create", .pass, calls: [evidence("virDomainCreate", 0)])]
        ),
        testCase(
            "vcpu-add",
            "cpu-hotplug",
            .fail,
            "step 2 (vcpu-list): expected 2 vCPUs online, saw 1 vCPUs online",
            steps: [
                step(0, "create", .pass, calls: [evidence("virDomainCreate", 0)]),
                step(
                    1,
                    "vcpu-list",
                    .fail,
                    "expected 2 vCPUs online, saw 1 vCPUs online | <odd> & # text",
                    calls: [evidence("virDomainGetVcpusFlags", 0)]
                ),
            ]
        ),
        testCase(
            "vcpu-unplug",
            "cpu-hotplug",
            .xfail,
            "known issue: vCPU unplug times out under TCG; step 2 (vcpu-set 1): failed"
        ),
        testCase(
            "vcpu-unplug-fixed",
            "cpu-hotplug",
            .xpass,
            "expected to fail (known issue: vCPU unplug times out under TCG), but passed"
        ),
        testCase(
            "pci-attach",
            "pci-passthrough",
            .skip,
            "libvirt's test driver cannot hot-plug devices (virDomainAttachDeviceFlags is not supported)"
        ),
        testCase(
            "wait-paused",
            "lifecycle",
            .timeout,
            "step 2 (wait-for-state paused): wait-for-state paused did not finish within 300ms (its timeout)"
        ),
        testCase(
            "teardown-broke",
            "network",
            .error,
            "teardown of domain xentest-r1-x failed: virDomainDestroy failed: \u{1}internal error"
        ), testCase("never-started", "network", .interrupted, "the run stopped before this case started"),
    ]
    return RunResult(
        schemaVersion: RunResult.currentSchemaVersion,
        runID: "r1",
        plan: "sample",
        planTitle: "Sample plan",
        release: "4.3.0-rc6",
        xentestVersion: "0.0.0-golden",
        host: HostFacts(
            hostname: "testhost",
            toolstack: "libvirt TEST driver",
            libvirtURI: "test:///default",
            libvirtDriver: "TEST",
            libvirtVersion: "9.0.0",
            hypervisorVersion: "0.0.2",
            cpuModel: "x86_64",
            cpus: 8,
            totalMemoryMiB: 8192,
            freeMemoryMiB: 4096,
            virtCaps: ["hvm"],
            iommu: false,
            hvm: true,
            pvh: false,
            bridges: ["default", "virbr0"],
            runsGuestCode: false
        ),
        hostConfig: "built-in host file for libvirt's test driver",
        startedAt: start,
        finishedAt: start.addingTimeInterval(12.5),
        interrupted: false,
        summary: RunSummary(cases),
        cases: cases
    )
}

@Suite("Reports") struct ReportTests {
    @Test("each format renders the sample result exactly as its golden file", arguments: ReportFormat.allCases)
    func golden(_ format: ReportFormat) throws {
        try expectGolden(format.render(sampleResult()), "reports/\(format.defaultFileName)")
    }

    @Test("report.json decodes back to the same result, with schemaVersion and counts") func jsonRoundTrip() throws {
        let result = sampleResult()
        let json = JSONReporter.render(result)
        #expect(try JSONReporter.decode(json) == result)
        #expect(json.contains("\"schemaVersion\" : 1"))
        #expect(result.summary.total == 8 && result.summary.fail == 1 && result.summary.xfail == 1)
        #expect(result.exitStatus == .failed)
    }

    @Test("JUnit: xfail is skipped, xpass a failure, timeout and interrupted errors; control characters dropped")
    func junitMapping() {
        let xml = JUnitReporter.render(sampleResult())
        #expect(xml.contains("tests=\"8\" failures=\"2\" errors=\"3\" skipped=\"2\""))
        #expect(xml.contains("<skipped message=\"xfail: known issue"))
        #expect(xml.contains("<failure message=\"expected to fail (known issue"))
        #expect(xml.contains("<error message=\"step 2 (wait-for-state paused)"))
        #expect(!xml.contains("\u{1}"))
        #expect(xml.contains("&lt;with &amp; &quot;quotes&quot;&gt;") == false, "titles are not in JUnit; ids are")
    }

    @Test("Markdown summary: a table per area, failures with their failing step, pipes escaped") func markdownShape() {
        let text = MarkdownSummaryReporter.render(sampleResult())
        #expect(
            text.hasPrefix(
                "## Sample plan: 1 pass, 1 fail, 1 error, 1 skip, 1 xfail, 1 xpass, 1 timeout, 1 interrupted"
            )
        )
        for area in ["lifecycle", "cpu-hotplug", "pci-passthrough", "network"] { #expect(text.contains("### \(area)")) }
        // The step's message says what it expected; the step's own "succeeds" is not put in front of it.
        #expect(
            text.contains("Failing step 2, `vcpu-list`: expected 2 vCPUs online, saw 1 vCPUs online | <odd> & # text.")
        )
        #expect(MarkdownSummaryReporter.cell("a | b\nc") == "a \\| b c", "cells escape pipes and fold lines")
    }
}

/// The reports of a real run, checked by tools nobody here wrote (Python's jsonschema and junitparser).
@Suite("Reports read by other tools") struct ExternalReportReaderTests {
    static let schema = Fixtures.repositoryRoot.appendingPathComponent("schemas/report.schema.json").path

    /// `.ci/run` installs both; on a developer machine without them the test says what to install.
    static let toolsPresent = PythonTools.canImport("jsonschema, junitparser")

    @Test(
        "report.json of a real run validates against the schema, junit.xml reads in junitparser with the same counts",
        .enabled(if: toolsPresent, "needs python3 with jsonschema and junitparser: pip install jsonschema junitparser")
    ) func realRun() async throws {
        let plan = try PlanLoader().load(path: Fixtures.realPlan("rc6")).plan
        let directory = try ScratchDirectory()
        let results = try ResultsDirectory(root: directory.path, plan: plan.name, host: "h", at: Date())
        let backend = try privateTestHost()
        let facts = try await backend.collectFacts(host: .testDriverDefault)
        let runPlan = try RunPlanner.resolve(plan, only: [], backend: backend, facts: facts, host: .testDriverDefault)
        await Runner(
            backend: backend,
            host: .testDriverDefault,
            facts: facts,
            runID: "x1",
            casesDirectory: results.casesPath,
            logger: Logger(label: "test"),
            emit: { results.record($0) }
        )
        .run(runPlan)
        let result = try #require(results.result())
        try RunReports.write(result, into: results.path)
        let output = try runChecker(results.path + "/report.json", results.path + "/junit.xml")
        #expect(output.status == 0, "\(output.text)")
        #expect(output.text.contains("report.json: valid"))
        #expect(output.text.contains("tests=\(plan.cases.count) failures=0 errors=0 skipped=\(result.summary.skip)"))
    }

    @Test("the sample result with every status validates too", .enabled(if: toolsPresent)) func sample() throws {
        let directory = try ScratchDirectory()
        let json = try directory.write(JSONReporter.render(sampleResult()), to: "report.json")
        let junit = try directory.write(JUnitReporter.render(sampleResult()), to: "junit.xml")
        let output = try runChecker(json, junit)
        #expect(output.status == 0, "\(output.text)")
        #expect(output.text.contains("tests=8 failures=2 errors=3 skipped=2"))
    }

    @Test("a result measured against a baseline validates too", .enabled(if: toolsPresent)) func baseline() throws {
        var result = sampleResult()
        var earlier = sampleResult()
        earlier.cases.removeFirst()
        result.baseline = BaselineComparison(baseline: BaselineRun(earlier), cases: result.cases)
        let directory = try ScratchDirectory()
        let json = try directory.write(JSONReporter.render(result), to: "report.json")
        let junit = try directory.write(JUnitReporter.render(result), to: "junit.xml")
        let output = try runChecker(json, junit)
        #expect(output.status == 0, "\(output.text)")
        let decoded = try JSONReporter.decode(String(contentsOfFile: json, encoding: .utf8))
        #expect(decoded.baseline?.cases.first?.change == .new)
        #expect(decoded.baseline == result.baseline)
    }

    @Test("the schema rejects a skip without a reason", .enabled(if: toolsPresent)) func schemaCatchesMissingReason()
        throws
    {
        var result = sampleResult()
        result.cases[4].reason = nil
        let directory = try ScratchDirectory()
        let json = try directory.write(JSONReporter.render(result), to: "report.json")
        let junit = try directory.write(JUnitReporter.render(result), to: "junit.xml")
        let output = try runChecker(json, junit)
        #expect(output.status == 1)
        #expect(output.text.contains("'reason' is a required property"))
    }

    func runChecker(_ json: String, _ junit: String) throws -> (status: Int32, text: String) {
        try PythonTools.run("check_reports.py", [Self.schema, json, junit])
    }
}
