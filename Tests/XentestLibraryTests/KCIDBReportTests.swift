import Foundation
import Testing
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport

/// The rendered KCIDB JSON read back as plain JSON values, as a consumer reads it.
func kcidbJSON(_ result: RunResult) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(KCIDBReporter.render(result).utf8)) as? [String: Any])
}

/// The objects of one kind (`tests`, `incidents`, ...).
func kcidbObjects(_ json: [String: Any], _ kind: String) -> [[String: Any]] { json[kind] as? [[String: Any]] ?? [] }

/// Whether `path` matches KCIDB's path pattern, as kcidb-io's schema v5.3 has it (`test_path_re`).
func isKCIDBPath(_ path: String) -> Bool {
    path.wholeMatch(of: try! Regex("([a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*)?")) != nil
}

@Suite("KCIDB export") struct KCIDBReportTests {
    @Test(
        "each status maps as the issue says, with xentest's own status in misc",
        arguments: [
            (CaseStatus.pass, "PASS"), (.fail, "FAIL"), (.xfail, "FAIL"), (.xpass, "PASS"), (.skip, "SKIP"),
            (.error, "ERROR"), (.timeout, "ERROR"), (.interrupted, "MISS"),
        ]
    ) func statusMapping(_ status: CaseStatus, _ expected: String) throws {
        let json = try kcidbJSON(oneCaseResult(status))
        let test = try #require(kcidbObjects(json, "tests").first)
        #expect(test["status"] as? String == expected)
        let misc = try #require(test["misc"] as? [String: Any])
        #expect(misc["xentest_status"] as? String == status.rawValue)
        #expect((misc["note"] as? String)?.hasPrefix("xpass: passed") == (status == .xpass ? true : nil))
        // Only xfail and xpass bring their known issue along: present for xfail, absent for xpass.
        let incidents = kcidbObjects(json, "incidents")
        #expect(incidents.count == (status == .xfail || status == .xpass ? 1 : 0))
        if let incident = incidents.first {
            #expect(incident["present"] as? Bool == (status == .xfail))
            #expect(incident["test_id"] as? String == test["id"] as? String)
            #expect(incident["issue_id"] as? String == kcidbObjects(json, "issues").first?["id"] as? String)
        }
        #expect(test["log_excerpt"] == nil || (status != .pass && status != .skip))
    }

    @Test("checkout, build and tests: ids from the run, origin xentest, the host's facts, version 5.3") func objects()
        throws
    {
        var result = sampleResult()
        result.host.xenVersion = "4.17.7"
        result.host.kernel = "6.1.0-28-amd64"
        let json = try kcidbJSON(result)
        #expect(json["version"] as? [String: Int] == ["major": 5, "minor": 3])
        let checkout = try #require(kcidbObjects(json, "checkouts").first)
        #expect(checkout["id"] as? String == "xentest:r1" && checkout["origin"] as? String == "xentest")
        #expect(checkout["comment"] as? String == "Xen 4.3.0-rc6, plan sample (Sample plan); the host runs Xen 4.17.7")
        #expect((checkout["misc"] as? [String: String])?["release"] == "4.3.0-rc6")
        let build = try #require(kcidbObjects(json, "builds").first)
        #expect(build["checkout_id"] as? String == "xentest:r1" && build["architecture"] as? String == "x86_64")
        let buildMisc = try #require(build["misc"] as? [String: Any])
        #expect(
            buildMisc["hostname"] as? String == "testhost" && buildMisc["dom0_kernel"] as? String == "6.1.0-28-amd64"
        )
        #expect(
            buildMisc["xen_version"] as? String == "4.17.7"
                && buildMisc["toolstack"] as? String == "libvirt TEST driver"
        )
        let tests = kcidbObjects(json, "tests")
        #expect(tests.map { $0["id"] as? String } == result.cases.map { "xentest:r1:\($0.id)" })
        #expect(tests[1]["path"] as? String == "xentest.sample.cpu-hotplug.vcpu-add")
        #expect(Set(tests.map { $0["build_id"] as? String }) == ["xentest:r1"])
        #expect(tests[0]["duration"] as? Double == 1.5)
        #expect(tests[7]["duration"] == nil, "a case that never started has no duration")
    }

    @Test("paths keep only what KCIDB allows; the same case on two backends gets two ids") func pathsAndIDs() throws {
        var result = sampleResult()
        result.plan = "rc6.1 final"
        result.cases[0].area = "pci.passthrough/ünï"
        var twin = result.cases[0]
        twin.backend = .xl
        result.cases.append(twin)
        let tests = kcidbObjects(try kcidbJSON(result), "tests")
        let path = try #require(tests[0]["path"] as? String)
        #expect(path == "xentest.rc6_1_final.pci_passthrough__n_.create-destroy")
        for test in tests { #expect(isKCIDBPath(test["path"] as? String ?? "-")) }
        #expect(!isKCIDBPath("xentest.4.3..x") && !isKCIDBPath("xentest.rc6 final"), "the pattern itself")
        #expect(tests[0]["id"] as? String == "xentest:r1:create-destroy:libvirt")
        #expect(tests.last?["id"] as? String == "xentest:r1:create-destroy:xl")
        #expect(tests[1]["id"] as? String == "xentest:r1:vcpu-add")
        #expect(
            KCIDBReporter.architecture("Intel(R) Xeon(R)") == nil && KCIDBReporter.architecture("aarch64") == "aarch64"
        )
    }

    @Test("a known issue: its link as report_url, the same id in every run; one without a link has none")
    func knownIssues() throws {
        let linked = KCIDBReporter.issue("vCPU unplug times out (under TCG) (https://example.org/x?id=1)")
        #expect(linked.reportUrl == "https://example.org/x?id=1")
        #expect(linked.reportSubject == "vCPU unplug times out (under TCG)")
        let unlinked = KCIDBReporter.issue("vCPU unplug times out (under TCG)")
        #expect(unlinked.reportUrl == nil && unlinked.reportSubject == "vCPU unplug times out (under TCG)")
        #expect(KCIDBReporter.issue("x (not a link)").reportUrl == nil)
        var other = sampleResult()
        other.runID = "other"
        let first = kcidbObjects(try kcidbJSON(sampleResult()), "issues").map { $0["id"] as? String }
        let second = kcidbObjects(try kcidbJSON(other), "issues").map { $0["id"] as? String }
        #expect(first == second && first.count == 1)
        #expect(first != kcidbObjects(try kcidbJSON(oneCaseResult(.xfail)), "issues").map { $0["id"] as? String })
        #expect(KCIDBReporter.fnv1a("") == "cbf29ce484222325" && KCIDBReporter.fnv1a("a") == "af63dc4c8601ec8c")
    }

    @Test("log_excerpt: the reason first, then the evidence's end, within 16384 scalars; no NUL anywhere")
    func excerptAndNUL() throws {
        var result = oneCaseResult(.fail)
        result.cases[0].steps[1].evidence[0].output =
            String(repeating: "é line of console output\n", count: 4000) + "THE END"
        result.cases[0].reason = "step 2 (vcpu-list): bad\0ly"
        let json = try kcidbJSON(result)
        let excerpt = try #require(kcidbObjects(json, "tests").first?["log_excerpt"] as? String)
        #expect(excerpt.unicodeScalars.count == KCIDBReporter.excerptLimit)
        #expect(excerpt.hasPrefix("step 2 (vcpu-list): badly\nfailing step 2 (vcpu-list): "))
        #expect(excerpt.contains("\n\n…") && excerpt.contains("THE END"))
        #expect(!KCIDBReporter.render(result).contains("\\u0000"))
        let short = try #require(KCIDBReporter.excerpt(sampleResult().cases[1]))
        #expect(short.hasSuffix("virDomainDestroy(xentest-r1-x) -> 0 in 0.012s") && short.count < 1000)
    }

    @Test("the same result renders the same bytes") func deterministic() {
        #expect(KCIDBReporter.render(hostileResult()) == KCIDBReporter.render(hostileResult()))
    }
}
