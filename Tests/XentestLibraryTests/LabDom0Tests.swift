import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// xentest itself in dom0, as a TestDay tester runs it on their Xen host: no backend options, xl by default through
/// the local runner, the host's facts from libxl in-process. In the lab suite, so that one lab boots at a time.
extension LabEndToEndTests {
    /// Where the test puts xentest in dom0, and the argv prefix that runs it there.
    static let dom0Folder = "/opt/xentest"
    static let inDom0 = [
        "env", "LD_LIBRARY_PATH=\(dom0Folder)/lib", "XENTEST_PLANS=\(dom0Folder)/testplans", "\(dom0Folder)/xentest",
    ]

    @Test(
        "xentest in dom0: facts from libxl equal xl info's over SSH; smoke cases pass with no backend options",
        .enabled(if: labTestsEnabled, "set XENTEST_LAB_TESTS=1 and install qemu-system-x86 to boot Xen in QEMU"),
        .timeLimit(.minutes(20))
    ) func xentestInDom0() async throws {
        let binary = try #require(
            XentestBinary.executable?.path,
            "no xentest executable next to the test bundle; build it first"
        )
        try await Self.withBootedLabLeftAsItWas { lab, _, folder, ssh, _ in
            // dom0 has libvirt's and libxl's libraries (the lab's libvirtd and xl need them); the Swift runtime goes
            // along with the binary, the plans and the lab's host file.
            let stage = folder + "/stage"
            try FileManager.default.createDirectory(atPath: stage + "/lib", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: binary, toPath: stage + "/xentest")
            let ldd = try await LocalCommandRunner().run(["ldd", binary], timeout: .seconds(30))
            let runtime = ldd.stdout.split(separator: "\n")
                .compactMap { line -> String? in
                    let path = line.split(separator: " ").first { $0.hasPrefix("/") }.map(String.init)
                    return path.flatMap { $0.contains("/usr/lib/swift/") ? $0 : nil }
                }
            #expect(runtime.contains { $0.hasSuffix("/libswiftCore.so") }, "\(ldd.stdout)")
            for library in runtime {
                try FileManager.default.copyItem(
                    atPath: library,
                    toPath: stage + "/lib/" + (library as NSString).lastPathComponent
                )
            }
            try FileManager.default.copyItem(
                atPath: Fixtures.repositoryRoot.appendingPathComponent("testplans").path,
                toPath: stage + "/testplans"
            )
            try FileManager.default.copyItem(atPath: lab.paths.hostFile, toPath: stage + "/host.yaml")
            let shipStart = Date()
            try await Self.ship(stage, to: Self.dom0Folder, through: ssh)
            print(
                String(
                    format: "xentest and the Swift runtime shipped to dom0 in %.1f s",
                    Date().timeIntervalSince(shipStart)
                )
            )

            // The same host, asked two ways: libxl inside dom0, and `xl info` over SSH.
            let factsRun = try await ssh.run(Self.inDom0 + ["facts", "--json"], timeout: .seconds(120))
            #expect(factsRun.succeeded, "\(factsRun.stderr)")
            let fromLibxl = try JSONDecoder().decode(HostFacts.self, from: Data(factsRun.stdout.utf8))
            let fromXL = try await XLBackend(runner: ssh).collectFacts(host: .empty(source: "none"))
            #expect(fromLibxl.factsSource == "libxl")
            #expect(fromXL.factsSource == "xl info")
            #expect(fromLibxl.xenVersion?.hasPrefix("4.17.") == true)
            #expect(fromLibxl.iommu == true, "the lab's Xen has an IOMMU")
            var libxlFacts = fromLibxl
            var xlFacts = fromXL
            libxlFacts.factsSource = nil
            xlFacts.factsSource = nil
            #expect(libxlFacts == xlFacts, "libxl: \(fromLibxl)\nxl info: \(fromXL)")

            // What a tester types in dom0: no --backend, --connect or --host.
            let cases = ["lifecycle-create-destroy", "cpu-hotplug-pv-add-in-guest", "network-vif-ping"]
            let results = "/tmp/xentest-results"
            let run = try await ssh.run(
                Self.inDom0 + ["run", "smoke", "--host-config", Self.dom0Folder + "/host.yaml", "--results", results]
                    + cases.flatMap { ["--only", $0] },
                timeout: .seconds(900)
            )
            print(run.stderr)
            if run.status != 0 {
                let evidence = try await ssh.run(
                    ["find", results, "-name", "evidence.txt", "-exec", "cat", "{}", ";"],
                    timeout: .seconds(30)
                )
                print(evidence.stdout)
            }
            #expect(run.status == 0, "\(run.stderr)")
            let reportPath = try await ssh.run(["find", results, "-name", "report.json"], timeout: .seconds(30))
            let report = try await ssh.run(
                ["cat", reportPath.stdout.trimmingCharacters(in: .whitespacesAndNewlines)],
                timeout: .seconds(30)
            )
            let result = try JSONReporter.decode(report.stdout)
            #expect(result.host.toolstack.hasPrefix("xl (Xen 4.17."))
            #expect(result.host.factsSource == "libxl")
            #expect(result.cases.map(\.id) == cases)
            #expect(
                result.cases.map(\.status) == [.pass, .pass, .pass],
                "\(result.cases.map { "\($0.id): \($0.reason ?? "")" })"
            )
            #expect(result.cases.allSatisfy { $0.backend == .xl })

            _ = try await ssh.run(["rm", "-rf", Self.dom0Folder, results], timeout: .seconds(60))
        }
    }

    /// Copies the folder `stage` to `target` in dom0: a gzipped tar through the lab's ssh (dom0's busybox unpacks it).
    static func ship(_ stage: String, to target: String, through ssh: SSHCommandRunner) async throws {
        let made = try await ssh.run(["mkdir", "-p", target], timeout: .seconds(30))
        #expect(made.succeeded, "\(made.stderr)")
        let archive = stage + ".tgz"
        let pack = try await LocalCommandRunner()
            .run(["tar", "-czf", archive, "-C", stage, "."], timeout: .seconds(120))
        try #require(pack.succeeded, "\(pack.stderr)")
        let process = Process()
        let argv = ssh.sshArgv(for: ["tar", "-xzf", "-", "-C", target])
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: archive))
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(process.terminationStatus == 0, "unpacking in dom0 failed: \(stderr)")
    }
}
