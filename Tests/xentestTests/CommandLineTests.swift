import Foundation
import Testing
import XentestBackendXL
import XentestPlan
import XentestReport
import XentestRun
import XentestSupport

/// The `xentest` binary as a user runs it: output, stdout/stderr split and exit status.
@Suite("xentest command line: --version, --help, validate, list, show") struct CommandLineTests {
    static let root = XentestProcess.repositoryRoot
    static let fixtures = root.appendingPathComponent("Tests/XentestLibraryTests/Fixtures/plans")
    static let brokenPlan = fixtures.appendingPathComponent("invalid/many-problems.yaml").path
    static let labHost = fixtures.appendingPathComponent("hosts/lab-host.yaml").path
    static let testplans = root.appendingPathComponent("testplans").path

    /// What the library reports for a plan: what `validate` must print.
    func diagnostics(of path: String) -> [String] {
        do {
            _ = try PlanLoader().load(path: path)
            return []
        } catch { return error.diagnostics.map(\.description) }
    }

    func realPlan(_ name: String) throws -> Plan {
        try PlanLoader().load(path: Self.testplans + "/" + name + ".yaml").plan
    }

    @Test func versionPrintsTheVersion() async throws {
        let result = try await XentestProcess.run(["--version"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == XentestVersion.current + "\n")
        #expect(result.stderr.isEmpty)
    }

    @Test func helpHasExamples() async throws {
        let result = try await XentestProcess.run(["--help"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("Examples:"))
        #expect(result.stdout.contains("xentest validate rc6"))
        for subcommand in ["list", "validate", "show"] {
            #expect(result.stdout.contains("  \(subcommand) "), "help lists \(subcommand)")
        }
        let validateHelp = try await XentestProcess.run(["validate", "--help"])
        #expect(validateHelp.status == 0)
        #expect(validateHelp.stdout.contains("Example: xentest validate"))
    }

    @Test func validateRc6FromTheRepositoryRoot() async throws {
        let plan = try realPlan("rc6")
        let result = try await XentestProcess.run(["validate", "rc6"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "testplans/rc6.yaml: ok, \(plan.cases.count) cases\n")
        #expect(result.stderr.isEmpty)
    }

    @Test func validateFindsPlansThroughTheEnvironment() async throws {
        let elsewhere = FileManager.default.temporaryDirectory
        let result = try await XentestProcess.run(
            ["validate", "rc6", "smoke"],
            environment: ["XENTEST_PLANS": Self.testplans],
            in: elsewhere
        )
        #expect(result.status == 0, "\(result)")
        let paths: [String] = result.stdout.split(separator: "\n").map { line in String(line.prefix { $0 != ":" }) }
        #expect(paths == [Self.testplans + "/rc6.yaml", Self.testplans + "/smoke.yaml"])
    }

    @Test("a bare plan name is found from any folder: in the checkout the binary was built from")
    func planNamesFromAnyFolder() async throws {
        let result = try await XentestProcess.run(["validate", "rc6"], in: FileManager.default.temporaryDirectory)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix(Self.testplans + "/rc6.yaml: ok"), "\(result)")
    }

    @Test("run with a broken plan: its problems first, exit 2, whatever the machine has for a backend")
    func runBrokenPlanSaysSoBeforeAnyBackend() async throws {
        let expected = diagnostics(of: Self.brokenPlan)
        for backend in [[], ["--backend", "libvirt"], ["--connect", "qemu+ssh://nowhere.invalid/system"]] {
            let result = try await XentestProcess.run(["run", Self.brokenPlan] + backend)
            #expect(result.status == 2, "\(backend): \(result)")
            #expect(result.stderr == expected.joined(separator: "\n") + "\n", "\(backend)")
        }
    }

    @Test func validateBrokenPlanPrintsEveryDiagnosticOnStderr() async throws {
        let expected = diagnostics(of: Self.brokenPlan)
        #expect(expected.count > 10)
        let result = try await XentestProcess.run(["validate", Self.brokenPlan])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == expected.joined(separator: "\n") + "\n")
        #expect(result.stderr.hasPrefix(Self.brokenPlan + ":4:1: error: unknown key 'sumary'"))
    }

    @Test func validateGoodAndBrokenTogether() async throws {
        let result = try await XentestProcess.run(["validate", "rc6", Self.brokenPlan, "smoke"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.contains("testplans/rc6.yaml: ok"))
        #expect(result.stdout.contains("testplans/smoke.yaml: ok"))
        #expect(!result.stdout.contains("error"))
        #expect(result.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix(Self.brokenPlan + ":") })
    }

    @Test func validateUnknownPlanName() async throws {
        let result = try await XentestProcess.run(["validate", "rc99"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("rc99: error: no plan 'rc99': give a path, or a name found in "))
        #expect(result.stderr.contains("(available: rc6, smoke"))
    }

    @Test func validateMissingPath() async throws {
        let result = try await XentestProcess.run(["validate", "testplans/nope.yaml"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("no plan 'testplans/nope.yaml'"))
    }

    @Test(arguments: [
        ["validate"], ["validate", "--frobnicate", "rc6"], ["frobnicate"], ["show"], ["list", "a", "b"],
    ]) func usageErrorsExitTwo(_ arguments: [String]) async throws {
        let result = try await XentestProcess.run(arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("error: "), "\(result)")
        #expect(!result.stderr.contains("Error:"), "one spelling, as xentest's own messages: \(result)")
        #expect(result.stderr.contains("Usage: ") || result.stderr.contains("Help: "), "\(result)")
    }

    @Test func validateWithAHostFile() async throws {
        let result = try await XentestProcess.run(["validate", "smoke", "--host-config", Self.labHost])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasSuffix(Self.labHost + ": ok\n"))
    }

    @Test func validateWithABrokenHostFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xentest-host-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let host = directory.appendingPathComponent("host.yaml").path
        try "pci-devices:\n  nic: 0000:03:00.8\nbridg: xenbr0\n".write(toFile: host, atomically: true, encoding: .utf8)
        let result = try await XentestProcess.run(["validate", "smoke", "--host-config", host])
        #expect(result.status == 2, "\(result)")
        #expect(
            result.stderr.split(separator: "\n") == [
                "\(host):2:8: error: address of 'nic': '0000:03:00.8' is not a PCI address; write it as 0000:03:00.0 "
                    + "(domain:bus:device.function)",
                "\(host):3:1: error: unknown key 'bridg' in the host file; did you mean 'bridge'?",
            ]
        )
        let show = try await XentestProcess.run(["show", "smoke", "--host-config", host])
        #expect(show.status == 2, "\(show)")
        #expect(show.stdout.isEmpty)
    }

    @Test func listThePlans() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xentest-plans-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            atPath: Self.fixtures.appendingPathComponent("valid/sample.yaml").path,
            toPath: directory.appendingPathComponent("sample.yaml").path
        )
        try "release: x\n".write(to: directory.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        let result = try await XentestProcess.run(["list"], environment: ["XENTEST_PLANS": directory.path])
        #expect(result.status == 0, "\(result)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("rc6\t\(try realPlan("rc6").title)"))
        #expect(lines.contains("smoke\t\(try realPlan("smoke").title)"))
        #expect(lines.contains("sample\tSample plan"))
        #expect(lines.contains("broken\t(does not validate: xentest validate broken)"))
        #expect(lines == lines.sorted(), "sorted by name")
    }

    @Test func listAPlan() async throws {
        let result = try await XentestProcess.run(["list", "rc6"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == PlanListing.render(try realPlan("rc6")))
        #expect(result.stderr.isEmpty)
    }

    @Test func listABrokenPlan() async throws {
        let result = try await XentestProcess.run(["list", Self.brokenPlan])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("error: unknown key 'sumary'"))
    }

    @Test func showAPlan() async throws {
        let result = try await XentestProcess.run(["show", "rc6"])
        #expect(result.status == 0, "\(result)")
        let plan = try realPlan("rc6")
        #expect(result.stdout == PlanInstructionsRenderer.render(plan))
        #expect(result.stdout.hasPrefix("# \(plan.title)\n"))
        #expect(result.stderr.isEmpty)
    }

    @Test func showAPlanWithAHostFile() async throws {
        let result = try await XentestProcess.run(["show", "smoke", "--host-config", Self.labHost])
        #expect(result.status == 0, "\(result)")
        let host = try HostConfig.load(path: Self.labHost)
        #expect(
            result.stdout == PlanInstructionsRenderer.render(try realPlan("smoke"), host: host, hostFile: Self.labHost)
        )
        #expect(result.stdout.contains("`xentest run smoke --host-config \(Self.labHost)`"), "\(result)")
        #expect(result.stdout.contains("xl pci-assignable-add 0000:03:00.0"))
    }
}
