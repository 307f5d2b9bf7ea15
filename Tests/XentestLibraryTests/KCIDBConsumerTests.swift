import Foundation
import Testing
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport

/// The KCIDB export read by kcidb-io, KernelCI's own library: its schema v5.3 validator, formats checked.
@Suite("KCIDB read by kcidb-io") struct KCIDBConsumerTests {
    /// `scripts/setup` installs kcidb-io from PyPI; without it the tests say what to install.
    static let present = PythonTools.canImport("kcidb_io")

    /// Writes `text` and runs `Tests/tools/check_kcidb.py` on it.
    func check(_ text: String) throws -> (status: Int32, text: String) {
        let directory = try ScratchDirectory()
        return try PythonTools.run("check_kcidb.py", [try directory.write(text, to: "kcidb.json")])
    }

    @Test(
        "the sample result with every status and a known issue is valid v5.3, parents and all",
        .enabled(if: present, "needs python3 with kcidb-io: pip install kcidb-io")
    ) func sample() throws {
        let output = try check(KCIDBReporter.render(hostileResult()))
        #expect(output.status == 0, "\(output.text)")
        #expect(output.text.contains("kcidb: valid v5.3: checkouts=1 builds=1 tests=8 issues=1 incidents=2"))
        #expect(output.text.contains("kcidb: test statuses ERROR,ERROR,FAIL,FAIL,MISS,PASS,PASS,SKIP"))
    }

    @Test(
        "real runs on Xen in the lab (xl, and libvirt's libxl driver), from their journals, are valid v5.3",
        .enabled(if: present, "needs python3 with kcidb-io: pip install kcidb-io"),
        arguments: ["rc6-xl-lab.jsonl", "rc6-libvirt-lab.jsonl"]
    ) func labRuns(_ journal: String) throws {
        let result = try RunResult.load(run: try Fixtures.bundled.appendingPathComponent("runs/\(journal)").path)
        #expect(result.host.xenVersion != nil)
        let output = try check(KCIDBReporter.render(result))
        #expect(output.status == 0, "\(output.text)")
        #expect(output.text.contains("kcidb: valid v5.3: checkouts=1 builds=1 tests=\(result.cases.count) "))
    }

    @Test(
        "kcidb-io rejects what the schema forbids: an origin with a capital, a path with an empty part, a bad date",
        .enabled(if: present, "needs python3 with kcidb-io: pip install kcidb-io"),
        arguments: [
            (
                "\"origin\" : \"xentest\",\n      \"path\" : \"xentest.sample.lifecycle.create-destroy\"",
                "\"origin\" : \"Xentest\",\n      \"path\" : \"xentest.sample.lifecycle.create-destroy\"",
                "does not match"
            ),
            (
                "\"path\" : \"xentest.sample.lifecycle.create-destroy\"", "\"path\" : \"xentest.4.3.x..create\"",
                "does not match"
            ),
            (
                "\"start_time\" : \"2023-11-14T22:13:20.000Z\",\n      \"status\"",
                "\"start_time\" : \"yesterday\",\n      \"status\"", "is not a 'date-time'"
            ),
        ]
    ) func rejects(_ original: String, _ broken: String, _ message: String) throws {
        let text = KCIDBReporter.render(sampleResult())
        #expect(text.contains(original), "the sample no longer has \(original)")
        let output = try check(text.replacingOccurrences(of: original, with: broken))
        #expect(output.status == 1, "\(output.text)")
        #expect(output.text.contains(message), "\(output.text)")
    }

    @Test(
        "a test whose build is not in the report is caught",
        .enabled(if: present, "needs python3 with kcidb-io: pip install kcidb-io")
    ) func danglingParent() throws {
        let text = KCIDBReporter.render(sampleResult())
            .replacingOccurrences(of: "\"build_id\" : \"xentest:r1\"", with: "\"build_id\" : \"xentest:elsewhere\"")
        let output = try check(text)
        #expect(output.status == 1)
        #expect(output.text.contains("test xentest:r1:create-destroy: no build xentest:elsewhere"), "\(output.text)")
    }
}
