import Foundation
import Testing
import XentestPlan
import XentestRun

/// What a new plan author meets in their first hour with the binary: messages that say what is wrong and what to
/// type instead.
@Suite("xentest command line: a plan author's first hour") struct FirstHourTests {
    static let root = XentestProcess.repositoryRoot
    static let labJournal = root.appendingPathComponent("Tests/XentestLibraryTests/Fixtures/runs/rc6-xl-lab.jsonl").path

    @Test("an --output that cannot be written: an error naming it, in the system's words, spelt 'error:', exit 2")
    func unwritableOutputIsNamed() async throws {
        let result = try await XentestProcess.run(["report", Self.labJournal, "--output", "/no/such/folder/out.md"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr == "error: cannot write /no/such/folder/out.md: No such file or directory\n", "\(result)")
    }

    /// A folder of its own for one test's files, removed when the test ends.
    final class Scratch {
        let path: String
        init() throws {
            path =
                FileManager.default.temporaryDirectory.appendingPathComponent("xentest-first-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// Writes `text` to `name` in the folder; returns its path.
        func write(_ text: String, to name: String) throws -> String {
            let file = path + "/" + name
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
    }

    static let onePlan = """
        release: 4.17.0-rc3
        title: A plan of my own
        cases:
          - id: one
            title: One
            area: general
            steps:
              - pci-assignable-list:
        """

    @Test("show of a plan outside the plan folders tells to run it by its path, not by a name that finds nothing")
    func showGivesThePathOfAPlanOutsideThePlanFolders() async throws {
        let scratch = try Scratch()
        let path = try scratch.write(Self.onePlan, to: "rc3.yaml")
        let result = try await XentestProcess.run(["show", path])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("`xentest run \(path) --host-config FILE`"), "\(result)")
        #expect(!result.stdout.contains("`xentest run rc3"), "\(result)")
        let named = try await XentestProcess.run(["show", "smoke"])
        #expect(named.stdout.contains("`xentest run smoke --host-config FILE`"), "\(named)")
    }

    /// With no Xen here, clean advises what clean can use (a Xen host, or --connect), not booting a lab to run a
    /// plan called 'clean'. On a Xen host it lists leftovers instead (--dry-run: nothing is removed).
    @Test func cleanWithoutABackendAdvisesConnect() async throws {
        let result = try await XentestProcess.run(["clean", "--dry-run"])
        #expect(!result.stderr.contains("lab run"), "\(result)")
        if !FileManager.default.fileExists(atPath: "/proc/xen/capabilities") {
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.hasPrefix("error: no Xen host detected"), "\(result)")
            #expect(result.stderr.contains("--connect"), "\(result)")
        }
    }
}
