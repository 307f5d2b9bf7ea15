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

/// xentest itself in dom0, as a TestDay tester runs it on their Xen host: installed from the Debian package (its
/// files, `dpkg-deb -x`, since the lab's dom0 has no dpkg), no backend options, xl by default through the local
/// runner, the host's facts from libxl in-process, the plans found by name in /usr/share/xentest/testplans. In the
/// lab suite, so that one lab boots at a time.
extension LabEndToEndTests {
    /// The package to install: `$XENTEST_DEB`, or `dist/xentest_VERSION_amd64.deb` (built by `scripts/package-deb`,
    /// which `scripts/test` runs through `scripts/check-deb` before the tests), built here when there is none.
    static func debianPackage() async throws -> String {
        if let named = ProcessInfo.processInfo.environment["XENTEST_DEB"], !named.isEmpty { return named }
        let built = Fixtures.repositoryRoot.appendingPathComponent("dist/xentest_\(XentestVersion.current)_amd64.deb")
        if FileManager.default.fileExists(atPath: built.path) { return built.path }
        let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/package-deb").path
        let made = try await LocalCommandRunner().run([script], timeout: .seconds(1800))
        try #require(made.succeeded, "scripts/package-deb failed: \(made.stderr.suffix(2000))")
        return made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(
        "xentest installed in dom0 from its Debian package: facts from libxl equal xl info's over SSH; smoke passes",
        .enabled(if: labTestsEnabled, "set XENTEST_LAB_TESTS=1 and install qemu-system-x86 to boot Xen in QEMU"),
        .timeLimit(.minutes(30))
    ) func xentestInDom0() async throws {
        let deb = try await Self.debianPackage()
        try await Self.withBootedLabLeftAsItWas { lab, _, folder, ssh, _ in
            // The package's files, as dpkg would install them; dom0 has libvirt's and libxl's libraries (the lab's
            // libvirtd and xl need them), and the binary carries the Swift runtime.
            let stage = folder + "/stage"
            let unpack = try await LocalCommandRunner().run(["dpkg-deb", "-x", deb, stage], timeout: .seconds(120))
            try #require(unpack.succeeded, "\(unpack.stderr)")
            let files = try await LocalCommandRunner().run(["dpkg-deb", "-c", deb], timeout: .seconds(60))
            let installed = files.stdout.split(separator: "\n")
                .compactMap { line -> String? in
                    guard let path = line.split(separator: " ").last, !path.hasSuffix("/") else { return nil }
                    return String(path.dropFirst())  // ./usr/bin/xentest -> /usr/bin/xentest
                }
            #expect(
                installed.contains("/usr/bin/xentest") && installed.contains("/usr/share/xentest/testplans/rc6.yaml")
            )
            try FileManager.default.copyItem(atPath: lab.paths.hostFile, toPath: stage + "/host.yaml")
            let shipStart = Date()
            try await Self.ship(stage, to: "/tmp/xentest-package", through: ssh)
            let install = try await ssh.run(
                [
                    "sh", "-c",
                    "cp -R /tmp/xentest-package/usr/. /usr/ && cp /tmp/xentest-package/host.yaml /root/host.yaml"
                        + " && rm -rf /tmp/xentest-package",
                ],
                timeout: .seconds(120)
            )
            try #require(install.succeeded, "\(install.stderr)")
            print(
                String(format: "the package's files installed in dom0 in %.1f s", Date().timeIntervalSince(shipStart))
            )

            // The same host, asked two ways: libxl inside dom0, and `xl info` over SSH.
            let factsRun = try await ssh.run(["xentest", "facts", "--json"], timeout: .seconds(120))
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

            // What a tester types in dom0, from their own folder: no --backend, --connect or --host, the plan by
            // name from the installed plans, the results in ./results.
            let cases = ["lifecycle-create-destroy", "cpu-hotplug-pv-add-in-guest", "network-vif-ping"]
            let home = "/tmp/xentest-tester"
            let run = try await ssh.run(
                ["sh", "-c", "mkdir -p \(home) && cd \(home) && exec xentest \"$@\"", "xentest"] + [
                    "run", "smoke", "--host-config", "/root/host.yaml",
                ] + cases.flatMap { ["--only", $0] },
                timeout: .seconds(900)
            )
            print(run.stderr)
            if run.status != 0 {
                let evidence = try await ssh.run(
                    ["find", home, "-name", "evidence.txt", "-exec", "cat", "{}", ";"],
                    timeout: .seconds(30)
                )
                print(evidence.stdout)
            }
            #expect(run.status == 0, "\(run.stderr)")
            let reportPath = try await ssh.run(
                ["find", home + "/results", "-name", "report.json"],
                timeout: .seconds(30)
            )
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

            let removed = try await ssh.run(
                ["rm", "-rf", home, "/root/host.yaml", "/usr/share/xentest", "/usr/share/doc/xentest"] + installed,
                timeout: .seconds(60)
            )
            #expect(removed.succeeded, "\(removed.stderr)")
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
