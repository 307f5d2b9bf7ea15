import Foundation
import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// Answers commands with output captured from real Xen 4.17 (`Fixtures/xl/`), for the backend's own logic.
///
/// Only what cannot run here is replayed: xl needs a Xen hypervisor. A command it was not given is a test failure,
/// never a made-up answer. The xl backend against real Xen is tested through `xentest lab`.
final class ReplayCommandRunner: CommandRunner {
    private let answers: [[String]: String]
    private let calls = Mutex<[[String]]>([])

    /// `answers` maps an argv to the name of its capture (`vcpu-list-2` for `vcpu-list-2.stdout` and siblings).
    init(_ answers: [[String]: String]) { self.answers = answers }

    var description: String { "replay of captured xl output" }
    var commands: [[String]] { calls.withLock { $0 } }

    func run(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        calls.withLock { $0.append(argv) }
        guard let name = answers[argv] else {
            Issue.record("unexpected command: \(argv.joined(separator: " "))")
            throw CommandNotStarted(argv: argv, reason: "not in the replay")
        }
        func read(_ suffix: String) throws -> String {
            let url = try Fixtures.bundled.appendingPathComponent("xl/\(name).\(suffix)")
            return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        }
        let status = Int32(try read("status").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        return CommandResult(
            argv: argv,
            status: status,
            stdout: try read("stdout"),
            stderr: try read("stderr"),
            durationSeconds: 0,
            timedOut: false
        )
    }
}

@Suite("xl backend on captured real output") struct XLBackendTests {
    let host = HostConfig(
        pciDevices: ["nic": .init(address: PCIAddress(domain: 0, bus: 0, device: 4, function: 0), largeBar: false)],
        bridge: "xenbr0",
        hostAddress: "10.0.0.1",
        guestAddress: "10.0.0.2",
        source: "test"
    )

    func session(_ yaml: String = "") throws -> CaseSession {
        let plan = try inlinePlan(
            """
            release: t
            title: t
            guests:
              g: {type: pv, maxvcpus: 4, nics: 1}
            cases:
              - id: c
                title: c
                area: a
                guest: g
                steps:
                  - create:
            """
        )
        let testCase = try #require(plan.cases.first)
        let guest = GuestInstance(domainName: "guest1", spec: try #require(testCase.guest), host: host)
        return CaseSession(testCase: testCase, guest: guest, host: host, evidenceDirectory: "/nonexistent")
    }

    @Test("host facts come from real `xl info`: Xen version, dom0 kernel, IOMMU from virt_caps") func facts()
        async throws
    {
        let backend = XLBackend(
            runner: ReplayCommandRunner([
                ["xl", "info"]: "info",
                ["find", "-L", "/sys/class/net/", "-maxdepth", "2", "-name", "bridge"]: "list-dom0-only",
                ["qemu-img", "--version"]: "qemu-img-version", ["cat", "/etc/os-release"]: "os-release",
            ])
        )
        let facts = try await backend.collectFacts(host: .empty(source: "none"))
        #expect(facts.distribution == nil, "the lab's dom0 is an initramfs without /etc/os-release")
        #expect(facts.xenVersion?.hasPrefix("4.17") == true)
        #expect(facts.parsedXenVersion.map { $0 >= Version([4, 17]) } == true)
        #expect(facts.kernel?.hasPrefix("6.1") == true)
        #expect(facts.iommu == true, "the capture was taken with QEMU's intel-iommu: \(facts.virtCaps)")
        #expect(facts.runsGuestCode)
        #expect(facts.factsSource == "xl info")
        #expect(facts.diskFormats == [.raw, .qcow2], "the lab's dom0 has qemu-img")
        // This machine's own /etc/os-release (Debian 12 here): the format every distribution writes.
        let here = try String(contentsOfFile: "/etc/os-release", encoding: .utf8)
        let pretty = here.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }.map { String($0.dropFirst(12)) }
        #expect(HostShellQuery.distribution(here).map { "\"\($0)\"" } == pretty)
        #expect(HostShellQuery.distribution("NAME='Alpine Linux'\nVERSION_ID=3.20.1\n") == "Alpine Linux 3.20.1")
        #expect(HostShellQuery.distribution("") == nil)
        #expect(
            HostShellQuery.bridgeNames("/sys/class/net/xenbr0/bridge\n/sys/class/net/br1/bridge\n") == [
                "br1", "xenbr0",
            ]
        )
    }

    @Test(
        "without Xen here, libxl says so (nothing crashes) and a backend that reads libxl falls back to `xl info`",
        .enabled(if: !XenHost.isPresent, "this machine is a Xen host: the lab test checks libxl's facts there")
    ) func libxlWithoutXen() async throws {
        #expect { try LibxlHostInfo.read() } throws: { error in "\(error)".hasPrefix("no Xen hypervisor here") }
        let backend = XLBackend(
            runner: ReplayCommandRunner([
                ["xl", "info"]: "info",
                ["find", "-L", "/sys/class/net/", "-maxdepth", "2", "-name", "bridge"]: "list-dom0-only",
                ["qemu-img", "--version"]: "qemu-img-version", ["cat", "/etc/os-release"]: "os-release",
            ]),
            readsLibxl: true
        )
        let facts = try await backend.collectFacts(host: .empty(source: "none"))
        #expect(
            facts.factsSource?.hasPrefix("xl info (libxl: no Xen hypervisor here") == true,
            "\(facts.factsSource ?? "nil")"
        )
        #expect(facts.xenVersion?.hasPrefix("4.17") == true)
    }

    @Test("list: running, paused, and an unknown domain is gone") func list() async throws {
        for (capture, state, memory) in [
            ("list-guest1", GuestState.running, 256), ("list-paused", .paused, 256), ("list-nonexistent", .gone, nil),
        ] {
            let backend = XLBackend(runner: ReplayCommandRunner([["xl", "list", "guest1"]: capture]))
            let outcome = try await backend.perform(.list, in: try session())
            #expect(outcome.succeeded, "\(capture)")
            #expect(outcome.observation == .listing(state, memoryMiB: memory), "\(capture)")
        }
    }

    @Test("vcpu-list counts online vCPUs; vcpu-set above maxvcpus fails with libxl's words, explained") func vcpus()
        async throws
    {
        let runner = ReplayCommandRunner([
            ["xl", "vcpu-list", "guest1"]: "vcpu-list-2", ["xl", "vcpu-set", "-i", "guest1", "5"]: "vcpu-set-i-5",
        ])
        let backend = XLBackend(runner: runner)
        let listed = try await backend.perform(.vcpuList, in: try session())
        #expect(listed.observation == .vcpus(online: 2, affinity: [0: .all, 1: .all, 2: .all, 3: .all]))
        let refused = try await backend.perform(.vcpuSet(5), in: try session())
        #expect(!refused.succeeded)
        #expect(
            try PlanPattern("maxcpus is 4|exceeds maximum|greater than max").matches(refused.errorMessage ?? ""),
            "\(refused.errorMessage ?? "")"
        )
        #expect(refused.evidence.first?.error.contains("Requested 5 VCPUs, however maxcpus is 4!") == true)
    }

    @Test("pci-assignable-add: teardown gives the device back only if it was not assignable before")
    func assignableLedger() async throws {
        let add = ["xl", "pci-assignable-add", "0000:00:04.0"]
        let fresh = try session()
        _ = try await XLBackend(
            runner: ReplayCommandRunner([
                ["xl", "pci-assignable-list"]: "pci-assignable-list-empty", add: "pci-assignable-add",
            ])
        )
        .perform(.pciAssignableAdd(role: "nic"), in: fresh)
        #expect(fresh.ledger.entries == [.assignablePCIDevice(PCIAddress(domain: 0, bus: 0, device: 4, function: 0))])
        let already = try session()
        _ = try await XLBackend(
            runner: ReplayCommandRunner([
                ["xl", "pci-assignable-list"]: "pci-assignable-list", add: "pci-assignable-add",
            ])
        )
        .perform(.pciAssignableAdd(role: "nic"), in: already)
        #expect(already.ledger.entries.isEmpty, "it was the tester's before the run: left as it was")
    }

    @Test("pci-list and network-list observe the device and the interfaces") func listings() async throws {
        let backend = XLBackend(
            runner: ReplayCommandRunner([
                ["xl", "pci-list", "guest1"]: "pci-list", ["xl", "network-list", "guest1"]: "network-list-2",
            ])
        )
        let pci = try await backend.perform(.pciList, in: try session())
        #expect(pci.observation == .pciDevices([PCIAddress(domain: 0, bus: 0, device: 4, function: 0)]))
        let nics = try await backend.perform(.networkList, in: try session())
        #expect(nics.observation == .interfaces(2))
    }

    @Test("xenstore-read fills in the guest's domain id") func xenstore() async throws {
        let runner = ReplayCommandRunner([
            ["xl", "domid", "guest1"]: "domid",
            ["xenstore-read", "/local/domain/0/backend/vif/1/0/feature-split-event-channels"]:
                "xenstore-read-feature-split-event-channels",
        ])
        let outcome = try await XLBackend(runner: runner)
            .perform(
                .xenstoreRead("/local/domain/0/backend/vif/{domid}/0/feature-split-event-channels"),
                in: try session()
            )
        #expect(outcome.observation == .text("1"))
    }

    @Test("teardown of a domain that is already gone is not an error") func teardownGone() async throws {
        let backend = XLBackend(runner: ReplayCommandRunner([["xl", "destroy", "nosuchguest"]: "destroy-nonexistent"]))
        let evidence = try await backend.undo(.domain(name: "nosuchguest"), in: try session())
        #expect(evidence.first?.status == 1)
    }

    @Test("create writes the guest's xl.cfg on the Xen host, then records the domain before xl create") func create()
        async throws
    {
        let runner = ReplayCommandRunner([
            ["mkdir", "-p", "/var/lib/xentest"]: "domid",
            ["dd", "of=/var/lib/xentest/guest1.cfg", "status=none"]: "pci-assignable-list-empty",
            ["xl", "create", "/var/lib/xentest/guest1.cfg"]: "create",
        ])
        let session = try session()
        let backend = XLBackend(runner: runner)
        let outcome = try await backend.perform(.create(paused: false), in: session)
        #expect(outcome.succeeded, "\(outcome.errorMessage ?? "")")
        #expect(session.ledger.teardownOrder == [.domain(name: "guest1"), .file(path: "/var/lib/xentest/guest1.cfg")])
        // The folder is made once a run: a later create writes and creates, one round trip less over SSH.
        _ = try await backend.perform(.create(paused: false), in: try self.session())
        #expect(runner.commands.filter { $0.first == "mkdir" }.count == 1, "\(runner.commands)")
        #expect(runner.commands.filter { $0.first == "dd" }.count == 2)
    }
}

@Suite("Commands inside a guest, through its console") struct GuestConsoleParsingTests {
    @Test("output between the markers, the exit status, and an echoed command line is not mistaken for output")
    func parse() throws {
        let transcript = """
            echo __XT_""B_ab12__; cat /sys/devices/system/cpu/online; echo __XT_""E_ab12_$?__\r
            __XT_B_ab12__\r
            0-1\r
            __XT_E_ab12_0__\r
            """
        let parsed = try #require(XLGuestConsole.parse(transcript, marker: "ab12"))
        #expect(parsed.status == 0)
        #expect(parsed.output == "0-1")
    }

    @Test("a failing command's status; output without a final newline; another marker's lines are ignored")
    func parseFailure() throws {
        let transcript = "__XT_B_old__\nstale\n__XT_E_old_0__\n__XT_B_cd34__\nno such file\npartial__XT_E_cd34_2__\n"
        let parsed = try #require(XLGuestConsole.parse(transcript, marker: "cd34"))
        #expect(parsed.status == 2)
        #expect(parsed.output == "no such file\npartial")
        #expect(XLGuestConsole.parse("__XT_B_cd34__\nno end", marker: "cd34") == nil)
    }
}
