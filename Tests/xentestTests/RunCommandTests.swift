import Foundation
import Testing
import XentestPlan
import XentestReport
import XentestRun
import XentestSupport

/// A private simulated host for libvirt's test driver (fresh state per process) and a scratch results folder.
final class RunScratch {
    let root: URL
    var results: String { root.appendingPathComponent("results").path }
    var hostURI: String { "test://" + root.appendingPathComponent("host.xml").path }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("xentest-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let host = XentestProcess.repositoryRoot.appendingPathComponent(
            "Tests/XentestLibraryTests/Fixtures/hosts/testhost.xml"
        )
        try FileManager.default.copyItem(at: host, to: root.appendingPathComponent("host.xml"))
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func write(_ text: String, to name: String) throws -> String {
        let path = root.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The one run directory under `results`.
    func runDirectory() throws -> String {
        let runs = try FileManager.default.contentsOfDirectory(atPath: results)
        try #require(runs.count == 1, "one run directory, found \(runs)")
        return results + "/" + runs[0]
    }
}

let slowPlan = """
    release: test
    title: interrupt me
    guests:
      g: {type: pv, maxvcpus: 2}
    cases:
      - id: long-wait
        title: waits long enough to be interrupted
        area: lifecycle
        guest: g
        steps:
          - create:
          - wait-for-state: paused
            timeout: 60s
      - id: after
        title: never starts
        area: lifecycle
        guest: g
        steps:
          - create:
    """

@Suite("xentest run, report and clean, through the built binary") struct RunCommandTests {
    @Test("a run in which every case was skipped says that nothing was tested, on stderr and in summary.md")
    func everyCaseSkipped() async throws {
        let scratch = try RunScratch()
        let outcome = try await XentestProcess.run([
            "run", "rc6", "--connect", scratch.hostURI, "--results", scratch.results, "--only", "network",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("\n5 skip in "), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("warning: nothing was tested: every case was skipped on this host"))
        let summary = try String(contentsOfFile: try scratch.runDirectory() + "/summary.md", encoding: .utf8)
        #expect(summary.contains("> **Nothing was tested**: every case was skipped on this host"))

        let tested = try await XentestProcess.run([
            "run", "rc6", "--connect", scratch.hostURI, "--results", scratch.results + "-2", "--only", "lifecycle",
        ])
        #expect(tested.status == 0, "\(tested.stderr)")
        #expect(!tested.stderr.contains("nothing was tested"))
    }

    @Test("report on a folder that is not a run: a clear error, exit 2") func reportOnAFolderWithoutARun() async throws
    {
        let scratch = try RunScratch()
        let outcome = try await XentestProcess.run(["report", scratch.root.path])
        #expect(outcome.status == 2, "\(outcome)")
        #expect(
            outcome.stderr.contains(scratch.root.path + ": no journal.jsonl or report.json here: not a run directory"),
            "\(outcome.stderr)"
        )
        #expect(!outcome.stderr.contains("NSCocoaErrorDomain"))
    }

    @Test("progress on a terminal is coloured, and not with NO_COLOR set (through script(1)'s terminal)") func noColor()
        async throws
    {
        let binary = try #require(XentestProcess.productsDirectory?.appendingPathComponent("xentest").path)
        let scratch = try RunScratch()
        func onATerminal(_ environment: [String: String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            let command = [binary, "run", "rc6", "--connect", scratch.hostURI, "--results", scratch.results]
                .map { "'\($0)'" }.joined(separator: " ")
            process.arguments = ["-qec", command, "/dev/null"]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
            let output = Pipe()
            process.standardOutput = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text
        }
        let coloured = try onATerminal(["NO_COLOR": ""])
        #expect(coloured.contains("\u{1B}[32mpass"), "\(coloured)")
        let plain = try onATerminal(["NO_COLOR": "1"])
        #expect(plain.contains("pass        cpu-hotplug-above-max"), "\(plain)")
        #expect(!plain.contains("\u{1B}[32m") && !plain.contains("\u{1B}[33m"))
    }

    @Test("run rc6 on the simulated host: exit 0, a line per case, the four reports, the junit extra") func runRC6()
        async throws
    {
        let scratch = try RunScratch()
        let junit = scratch.root.appendingPathComponent("extra.xml").path
        let outcome = try await XentestProcess.run([
            "run", "rc6", "--connect", scratch.hostURI, "--results", scratch.results, "--report", "junit:\(junit)",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty, "progress goes to stderr")
        #expect(outcome.stderr.contains("pass        cpu-hotplug-above-max"))
        #expect(outcome.stderr.contains("10 pass, 28 skip"))
        let directory = try scratch.runDirectory()
        for file in [
            "journal.jsonl", "report.json", "junit.xml", "summary.md", "report.html",
            "cases/cpu-hotplug-above-max/evidence.txt",
        ] { #expect(FileManager.default.fileExists(atPath: directory + "/" + file), "\(file)") }
        #expect(FileManager.default.fileExists(atPath: junit))
        let report = try JSONReporter.decode(String(contentsOfFile: directory + "/report.json", encoding: .utf8))
        #expect(report.summary.pass == 10)
        #expect(report.host.libvirtDriver == "TEST")
    }

    @Test("compare: a run on the simulated host beside rc6 on real Xen (the lab's journal); one run is a usage error")
    func compareRuns() async throws {
        let scratch = try RunScratch()
        let ran = try await XentestProcess.run([
            "run", "rc6", "--connect", scratch.hostURI, "--results", scratch.results,
        ])
        #expect(ran.status == 0, "\(ran.stderr)")
        let lab = XentestProcess.repositoryRoot
            .appendingPathComponent("Tests/XentestLibraryTests/Fixtures/runs/rc6-xl-lab.jsonl").path
        let table = scratch.root.appendingPathComponent("backends.md").path
        let compared = try await XentestProcess.run([
            "compare", try scratch.runDirectory(), lab, "--output", table, "--fail-on-difference",
        ])
        #expect(compared.status == 0, "\(compared.stderr)")
        let text = try String(contentsOfFile: table, encoding: .utf8)
        #expect(text.hasPrefix("| Case | libvirt test://"))
        #expect(text.contains("| cpu-hotplug-hvm-add | skip | pass |  |"))
        let alone = try await XentestProcess.run(["compare", lab])
        #expect(alone.status == 2)
        #expect(alone.stderr.contains("two or more runs"))
    }

    @Test("a failing case makes exit status 1; report re-renders the same summary from the journal")
    func failureAndReport() async throws {
        let scratch = try RunScratch()
        let plan = try scratch.write(
            """
            release: test
            title: fails
            guests:
              g: {type: pv, maxvcpus: 4}
            cases:
              - id: wrong
                title: wrong count
                area: cpu-hotplug
                guest: g
                steps:
                  - create:
                  - vcpu-list:
                    expect: {online-vcpus: 2}
            """,
            to: "fails.yaml"
        )
        let outcome = try await XentestProcess.run([
            "run", plan, "--connect", scratch.hostURI, "--results", scratch.results,
        ])
        #expect(outcome.status == 1, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("expected 2 vCPUs online, saw 1 vCPUs online"))
        let directory = try scratch.runDirectory()
        let rebuilt = try await XentestProcess.run(["report", directory, "--format", "markdown"])
        #expect(rebuilt.status == 0)
        #expect(rebuilt.stdout == (try String(contentsOfFile: directory + "/summary.md", encoding: .utf8)))
        let tap = try await XentestProcess.run(["report", directory, "--format", "tap"])
        #expect(tap.stdout.contains("not ok 1 - wrong [libvirt]"))
        let html = try await XentestProcess.run(["report", directory, "--format", "html"])
        #expect(html.status == 0)
        #expect(html.stdout == (try String(contentsOfFile: directory + "/report.html", encoding: .utf8)))
        let kcidbFile = scratch.root.appendingPathComponent("kcidb.json").path
        let kcidb = try await XentestProcess.run(["report", directory, "--format", "kcidb", "--output", kcidbFile])
        #expect(kcidb.status == 0 && kcidb.stdout.isEmpty, "\(kcidb.stderr)")
        let exported = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: kcidbFile)))
        let tests = try #require((exported as? [String: Any])?["tests"] as? [[String: Any]])
        #expect(tests.map { $0["status"] as? String } == ["FAIL"])
        #expect(tests.first?["path"] as? String == "xentest.fails.cpu-hotplug.wrong")
    }

    @Test(
        "--baseline: an rc5 run measures rc6's; only a failure rc5 did not have fails the run; a bad baseline exits 2"
    ) func baseline() async throws {
        let scratch = try RunScratch()
        // The same cases in both plans; in rc6 'breaks' expects what the guest does not do, and 'fresh' is new.
        func plan(_ release: String, breaksExpects state: String, extra: String = "") -> String {
            """
            release: 4.3.0-\(release)
            title: \(release)
            guests:
              g: {type: pv, maxvcpus: 2}
            cases:
              - id: steady
                title: runs
                area: lifecycle
                guest: g
                steps:
                  - create:
                  - list:
                    expect: {state: running}
              - id: breaks
                title: runs, until rc6 expects otherwise
                area: lifecycle
                guest: g
                steps:
                  - create:
                  - list:
                    expect: {state: \(state)}
              - id: broken
                title: never right
                area: lifecycle
                guest: g
                steps:
                  - create:
                  - list:
                    expect: {state: paused}
            \(extra)
            """
        }
        let fresh = """
              - id: fresh
                title: new in rc6
                area: lifecycle
                guest: g
                steps:
                  - create:
            """
        let rc5 = try scratch.write(plan("rc5", breaksExpects: "running"), to: "rc5.yaml")
        let rc6 = try scratch.write(plan("rc6", breaksExpects: "paused", extra: fresh), to: "rc6.yaml")
        let rc6Fixed = try scratch.write(plan("rc6", breaksExpects: "running", extra: fresh), to: "rc6-fixed.yaml")
        let connect = ["--connect", scratch.hostURI]

        let baseline = try await XentestProcess.run(["run", rc5] + connect + ["--results", scratch.results + "/rc5"])
        #expect(baseline.status == 1, "'broken' fails: \(baseline.stderr)")
        let rc5Run = try #require(try FileManager.default.contentsOfDirectory(atPath: scratch.results + "/rc5").first)
        let rc5Directory = scratch.results + "/rc5/" + rc5Run

        let regressed = try await XentestProcess.run(
            ["run", rc6] + connect + ["--results", scratch.results + "/rc6", "--baseline", rc5Directory]
        )
        #expect(regressed.status == 1, "\(regressed.stderr)")
        #expect(
            regressed.stderr.contains(
                "1 regression (breaks), 1 still-failing (broken), 1 new (fresh); failing the run: breaks"
            )
        )
        let rc6Run = try #require(try FileManager.default.contentsOfDirectory(atPath: scratch.results + "/rc6").first)
        let rc6Directory = scratch.results + "/rc6/" + rc6Run
        let summary = try String(contentsOfFile: rc6Directory + "/summary.md", encoding: .utf8)
        #expect(summary.contains("| breaks | pass | **FAIL** | **regression** |"))
        #expect(summary.contains("| broken | **FAIL** | **FAIL** | still-failing |"))
        #expect(summary.contains("| fresh | (not in its plan) | pass | new |"))
        #expect(summary.contains("Failing the run: breaks."))
        #expect(summary.contains("Also fail in the baseline: not failing the run."))
        let rebuilt = try await XentestProcess.run(["report", rc6Directory])
        #expect(rebuilt.stdout == summary, "the journal carries the baseline")

        // The regression fixed, the old failure left: the run passes against rc5 (from its report.json), and fails
        // without a baseline.
        let fixed = try await XentestProcess.run(
            ["run", rc6Fixed] + connect + [
                "--results", scratch.results + "/fixed", "--baseline", rc5Directory + "/report.json",
            ]
        )
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(fixed.stderr.contains("1 still-failing (broken), 1 new (fresh)\n"))
        let alone = try await XentestProcess.run(
            ["run", rc6Fixed] + connect + ["--results", scratch.results + "/alone"]
        )
        #expect(alone.status == 1)

        let missing = try await XentestProcess.run(
            ["run", rc6] + connect + ["--results", scratch.results + "/none", "--baseline", "no/such/run"]
        )
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("error: cannot read the baseline no/such/run: no such file or directory"))
        let notARun = try await XentestProcess.run(
            ["run", rc6] + connect + ["--results", scratch.results + "/none", "--baseline", rc5]
        )
        #expect(notARun.status == 2)
        #expect(notARun.stderr.contains("error: cannot read the baseline \(rc5): "))
        #expect(!FileManager.default.fileExists(atPath: scratch.results + "/none"), "nothing was started")
    }

    @Test("Ctrl-C mid-case: exit 130 after teardown, with a valid partial report") func interrupt() async throws {
        let scratch = try RunScratch()
        let plan = try scratch.write(slowPlan, to: "slow.yaml")
        let results = scratch.results
        // Once the journal shows the guest was created (bounded wait), press Ctrl-C. The wait may take most of the
        // process's 90 s: on a loaded 2-core machine (CI's first parallel test run) the binary took over 20 s to
        // create the guest.
        let outcome = try await XentestProcess.run(
            ["run", plan, "--connect", scratch.hostURI, "--results", results],
            timeout: 90
        ) { process in
            for _ in 0..<1400 {
                Thread.sleep(forTimeInterval: 0.05)
                let runs = (try? FileManager.default.contentsOfDirectory(atPath: results)) ?? []
                guard let run = runs.first,
                    let journal = try? String(contentsOfFile: results + "/" + run + "/journal.jsonl", encoding: .utf8),
                    journal.contains("\"label\":\"create\"")
                else { continue }
                process.interrupt()
                return
            }
        }
        #expect(outcome.status == 130, "\(outcome)")
        #expect(outcome.stderr.contains("Ctrl-C: stopping after teardown"))
        let directory = try scratch.runDirectory()
        let report = try JSONReporter.decode(String(contentsOfFile: directory + "/report.json", encoding: .utf8))
        #expect(report.interrupted)
        let long = try #require(report.cases.first { $0.id == "long-wait" })
        #expect(long.status == .interrupted)
        #expect(long.teardown.map(\.status) == [.pass], "the guest was torn down")
        #expect(long.teardown.first?.evidence.contains { $0.call == "virDomainDestroy" } == true)
        #expect(report.cases.first { $0.id == "after" }?.status == .interrupted)
    }

    @Test("usage and backend problems exit 2 before anything starts") func exitTwo() async throws {
        let scratch = try RunScratch()
        let noBackend = try await XentestProcess.run(["run", "rc6", "--results", scratch.results])
        #expect(noBackend.status == 2)
        #expect(noBackend.stderr.contains("--connect test:///default"))
        let badURI = try await XentestProcess.run([
            "run", "rc6", "--connect", "qemu:///nonexistent", "--results", scratch.results,
        ])
        #expect(badURI.status == 2)
        #expect(badURI.stderr.contains("cannot connect to qemu:///nonexistent"))
        let badOnly = try await XentestProcess.run([
            "run", "rc6", "--connect", scratch.hostURI, "--only", "cpu-hotplg", "--results", scratch.results,
        ])
        #expect(badOnly.status == 2)
        #expect(badOnly.stderr.contains("did you mean 'cpu-hotplug'?"))
        let badReport = try await XentestProcess.run(["run", "rc6", "--report", "pdf:x.pdf"])
        #expect(badReport.status == 2)
        #expect(badReport.stderr.contains("must be FORMAT:PATH"))
        #expect(!FileManager.default.fileExists(atPath: scratch.results), "nothing was started")
    }

    @Test("facts: the host as a run sees it, as text or JSON; without a Xen host or URI, exit 2 with what to do")
    func facts() async throws {
        let scratch = try RunScratch()
        let text = try await XentestProcess.run(["facts", "--connect", scratch.hostURI])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Toolstack    libvirt TEST driver"), "\(text.stdout)")
        #expect(text.stdout.contains("Guest code   does not run (simulated host)"))
        let json = try await XentestProcess.run(["facts", "--connect", scratch.hostURI, "--json"])
        let facts = try JSONDecoder().decode(HostFacts.self, from: Data(json.stdout.utf8))
        #expect(facts.libvirtDriver == "TEST" && facts.cpus > 0 && !facts.runsGuestCode)
        if !XenHost.isPresent {
            let none = try await XentestProcess.run(["facts"])
            #expect(none.status == 2)
            #expect(none.stderr.contains("boot one with `xentest lab up`"), "\(none.stderr)")
            #expect(none.stdout.isEmpty)
        }
    }

    @Test("--dry-run lists what would run and be skipped, on stdout, and creates nothing") func dryRun() async throws {
        let scratch = try RunScratch()
        let outcome = try await XentestProcess.run([
            "run", "smoke", "--connect", scratch.hostURI, "--dry-run", "--results", scratch.results,
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("run   cpu-hotplug-above-max"))
        #expect(outcome.stdout.contains("skip  pci-hotplug-attach-detach: "))
        #expect(outcome.stdout.contains("Dry run: nothing was created."))
        #expect(!FileManager.default.fileExists(atPath: scratch.results))
    }

    @Test("clean removes only what earlier runs left (xentest-*), never the tester's own domains; run warns of them")
    func cleanLeftovers() async throws {
        let scratch = try RunScratch()
        let hostPath = scratch.root.appendingPathComponent("host.xml").path
        var host = try String(contentsOfFile: hostPath, encoding: .utf8)
        host = host.replacingOccurrences(
            of: "  <network>",
            with: """
                  <domain type='test'><name>xentest-0ld123-lifecycle-shutdown</name><memory unit='MiB'>64</memory>
                    <vcpu>1</vcpu><os><type>hvm</type></os></domain>
                  <network><name>xentest-0ld123-net</name><bridge name='xtbr0'/></network>
                  <network>
                """
        )
        try host.write(toFile: hostPath, atomically: true, encoding: .utf8)
        let listed = try await XentestProcess.run(["clean", "--connect", scratch.hostURI, "--dry-run"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout == "would remove xentest-0ld123-lifecycle-shutdown\nwould remove xentest-0ld123-net\n")
        let cleaned = try await XentestProcess.run(["clean", "--connect", scratch.hostURI])
        #expect(cleaned.stdout == "removed xentest-0ld123-lifecycle-shutdown\nremoved xentest-0ld123-net\n")
        #expect(!cleaned.stdout.contains("resident") && !cleaned.stdout.contains("default"))
        let run = try await XentestProcess.run([
            "run", "smoke", "--connect", scratch.hostURI, "--only", "lifecycle", "--results", scratch.results,
        ])
        #expect(run.stderr.contains("2 object(s) left by earlier runs"))
        #expect(run.status == 0)
    }

    @Test("clean on a host with nothing of ours left says so and touches nothing") func cleanNothing() async throws {
        let scratch = try RunScratch()
        let outcome = try await XentestProcess.run(["clean", "--connect", scratch.hostURI])
        #expect(outcome.status == 0)
        #expect(outcome.stderr.contains("nothing to clean"))
    }
}
