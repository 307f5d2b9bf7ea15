import Foundation
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

/// The xl toolstack: every action is an `xl` command (or a dom0 tool) run through a `CommandRunner`, on this
/// machine or on a Xen host over SSH, with its output parsed into typed values.
public final class XLBackend: Backend {
    public let kind = BackendKind.xl
    public let driver = HypervisorDriver.xen
    /// Where commands run.
    public let runner: any CommandRunner
    /// The folder on the Xen host where guests' xl.cfg files are written.
    public let configDirectory: String
    /// Whether the host's facts come from libxl in this process (xentest runs in dom0) rather than `xl info`.
    public let readsLibxl: Bool

    /// xl through `runner`; configs go to `configDirectory` on the Xen host. With `readsLibxl` (only where this
    /// process runs in dom0), the host's facts are read from libxl, and from `xl info` if libxl cannot be asked.
    public init(runner: any CommandRunner, configDirectory: String = "/var/lib/xentest", readsLibxl: Bool = false) {
        self.runner = runner
        self.configDirectory = configDirectory
        self.readsLibxl = readsLibxl
    }

    /// What `xl info` says, and where it was read: libxl in this process, or `xl info` through the runner.
    func hostInfo() async throws -> (info: XLInfo, source: String) {
        var source = "xl info"
        if readsLibxl {
            do {
                return (try LibxlHostInfo.read(), "libxl")
            } catch {
                source = "xl info (libxl: \(error))"
            }
        }
        let result = try await runner.run(["xl", "info"], timeout: .seconds(30))
        guard result.succeeded else {
            throw BackendUnavailable(
                "`xl info` failed on \(runner) (exit \(result.status)): \(XLParse.stderr(result.stderr).summary ?? result.stderr)"
            )
        }
        return (try XLParse.info(result.stdout), source)
    }

    public func collectFacts(host: HostConfig) async throws -> HostFacts {
        let (info, source) = try await hostInfo()
        let bridges = try await runner.run(HostShellQuery.bridges, timeout: .seconds(30))
        return HostFacts(
            hostname: info.hostname,
            toolstack: "xl (Xen \(info.xenVersion))",
            hypervisorVersion: info.xenVersion,
            xenVersion: info.xenVersion,
            kernel: info.release,
            cpuModel: info.machine,
            cpus: info.cpus,
            totalMemoryMiB: info.totalMemoryMiB,
            freeMemoryMiB: info.freeMemoryMiB,
            virtCaps: info.virtCaps,
            iommu: info.canPassThroughPCI,
            hvm: info.virtCaps.contains("hvm"),
            pvh: info.virtCaps.contains("hap"),
            bridges: HostShellQuery.bridgeNames(bridges.stdout),
            runsGuestCode: true,
            factsSource: source
        )
    }

    public func unsupportedReason(for action: Action, guest: GuestSpec?) -> String? { nil }

    /// libxl's log of the guest, its device model's (HVM) and its console's, as xl and xenconsoled keep them.
    public func logs(for session: CaseSession) async -> [Evidence] {
        guard session.guest != nil else { return [] }
        let name = session.domainName
        return await logTails(
            ["/var/log/xen/xl-\(name).log", "/var/log/xen/qemu-dm-\(name).log", "/var/log/xen/console/guest-\(name).log"],
            through: runner
        )
    }

    public func perform(_ action: Action, in session: CaseSession) async throws -> ActionOutcome {
        var calls: [Evidence] = []
        let name = session.domainName
        /// Runs one command, keeping its evidence.
        func run(_ argv: [String], timeout: PlanDuration = .seconds(60), input: String? = nil) async throws -> CommandResult {
            let result = try await runner.run(argv, timeout: timeout, input: input)
            calls.append(result.evidence)
            return result
        }
        func failure(_ result: CommandResult) -> ActionOutcome {
            let text = XLBackend.problem(in: result.stderr)
            let message = result.timedOut ? "\(result.argv.joined(separator: " ")) did not finish in time" : text
            return .failure(message.isEmpty ? "exit status \(result.status)" : message, calls)
        }
        func runXL(_ action: Action) async throws -> CommandResult {
            let context = XLStepContext(
                guest: session.guest,
                host: session.host,
                configPath: configPath(name),
                attachedNICs: session.withState { $0.attachedNICs }
            )
            guard let command = XLCommand.forAction(action, context: context, timeout: PlanSyntax.defaultTimeout(for: action))
            else { preconditionFailure("\(action.name) is not a single xl command") }
            return try await run(command.argv, timeout: command.timeout)
        }
        func pciAddress(_ role: String) -> PCIAddress? { session.host.pciDevices[role]?.address }

        switch action {
        case .create:
            guard let guest = session.guest else { return .failure("the case has no guest", []) }
            let path = configPath(name)
            session.record(.file(path: path))
            _ = try await run(["mkdir", "-p", configDirectory])
            let written = try await run(["dd", "of=\(path)", "status=none"], input: XLConfigRenderer.render(guest))
            guard written.succeeded else { return failure(written) }
            session.record(.domain(name: name))
            let created = try await runXL(action)
            return created.succeeded ? .success(calls) : failure(created)
        case .destroy, .shutdown:
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            if case .shutdown = action {
                // `xl shutdown -w` returns while the domain is still listed, shut down, for a few seconds (seen on
                // Xen 4.17): wait until xl no longer knows it, as a tester would see it. The step's deadline bounds it.
                var delay = 0.2
                while true {
                    let listed = try await run(["xl", "list", name], timeout: .seconds(30))
                    if !listed.succeeded { break }
                    try await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, 1)
                }
            }
            session.forget(.domain(name: name))
            return .success(calls)
        case .list:
            let result = try await run(["xl", "list", name])
            if !result.succeeded, result.stderr.contains("invalid domain identifier") {
                return .success(calls, observation: .state(.gone))
            }
            guard result.succeeded else { return failure(result) }
            let rows = try XLParse.list(result.stdout)
            guard let row = rows.first(where: { $0.name == name }) else { return .success(calls, observation: .state(.gone)) }
            return .success(calls, observation: .state(row.state.guestState))
        case .vcpuList:
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            let online = try XLParse.vcpuList(result.stdout).filter { $0.name == name && $0.isOnline }.count
            return .success(calls, observation: .onlineVcpus(online))
        case .pciList:
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            return .success(calls, observation: .pciDevices(try XLParse.pciList(result.stdout).map(\.address)))
        case .pciAssignableList:
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            return .success(calls, observation: .pciDevices(try XLParse.pciAssignableList(result.stdout)))
        case .pciAssignableAdd(let role):
            guard let address = pciAddress(role) else { return .failure("no PCI device for role '\(role)'", []) }
            // Give back at teardown only what was not assignable before the run: the device returns to its state.
            let before = try await run(["xl", "pci-assignable-list"])
            let wasAssignable = before.succeeded && ((try? XLParse.pciAssignableList(before.stdout))?.contains(address) ?? false)
            if !wasAssignable { session.record(.assignablePCIDevice(address)) }
            let result = try await runXL(action)
            return result.succeeded ? .success(calls) : failure(result)
        case .pciAssignableRemove(let role):
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            if let address = pciAddress(role) { session.forget(.assignablePCIDevice(address)) }
            return .success(calls)
        case .networkList:
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            return .success(calls, observation: .interfaces(try XLParse.networkList(result.stdout).count))
        case .networkAttach:
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            session.withState { $0.attachedNICs += 1 }
            return .success(calls)
        case .networkDetach:
            let result = try await runXL(action)
            guard result.succeeded else { return failure(result) }
            session.withState { $0.attachedNICs -= 1 }
            return .success(calls)
        case .pause, .unpause, .vcpuSet, .pciAttach, .pciDetach:
            let result = try await runXL(action)
            return result.succeeded ? .success(calls) : failure(result)
        case .waitForState(let wanted):
            // xl has no events: poll `xl list`, gently; the runner's deadline ends the wait.
            var delay = 0.2
            while true {
                let result = try await run(["xl", "list", name])
                var seen = GuestState.gone
                if result.succeeded, let row = try XLParse.list(result.stdout).first(where: { $0.name == name }) {
                    seen = row.state.guestState
                } else if !result.succeeded, !result.stderr.contains("invalid domain identifier") {
                    return failure(result)
                }
                if seen == wanted { return .success(Array(calls.suffix(1)), observation: .state(seen)) }
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 2)
            }
        case .xenstoreRead(let pathTemplate):
            let domid = try await run(["xl", "domid", name])
            guard domid.succeeded else { return failure(domid) }
            let path = pathTemplate.replacingOccurrences(of: "{domid}", with: String(try XLParse.domid(domid.stdout)))
            let result = try await run(["xenstore-read", path])
            guard result.succeeded else { return failure(result) }
            return .success(calls, observation: .text(try XLParse.xenstoreRead(result.stdout)))
        case .guestExec(let command):
            let console = XLGuestConsole(runner: runner, domainName: name, serial: session.guest?.spec.type == .hvm)
            let outcome = try await console.exec(command)
            calls += outcome.evidence
            return outcome.reached
                ? .success(calls, observation: .commandOutput(exitStatus: outcome.status, output: outcome.output))
                : .failure(outcome.problem ?? "no answer from the guest's console", calls)
        case .ping(.guest):
            guard let address = session.host.guestAddress else {
                return .failure("the host file names no guest-address to ping", [])
            }
            let result = try await run(["ping", "-c", "3", "-W", "2", address], timeout: .seconds(20))
            return result.succeeded ? .success(calls) : .failure("no reply from the guest at \(address): \(result.stdout.suffix(200))", calls)
        case .ping(.host):
            guard let address = session.host.hostAddress else {
                return .failure("the host file names no host-address to ping", [])
            }
            let console = XLGuestConsole(runner: runner, domainName: name, serial: session.guest?.spec.type == .hvm)
            let outcome = try await console.exec("ping -c 3 -W 2 \(address)")
            calls += outcome.evidence
            guard outcome.reached else { return .failure(outcome.problem ?? "no answer from the guest's console", calls) }
            return outcome.status == 0
                ? .success(calls) : .failure("the guest got no reply from \(address): \(outcome.output.suffix(200))", calls)
        }
    }

    public func undo(_ entry: LedgerEntry, in session: CaseSession) async throws -> [Evidence] {
        var calls: [Evidence] = []
        switch entry {
        case .domain(let name):
            let result = try await runner.run(["xl", "destroy", name], timeout: .seconds(60))
            calls.append(result.evidence)
            if !result.succeeded && !result.stderr.contains("invalid domain identifier") {
                throw TeardownFailed(evidence: result)
            }
        case .assignablePCIDevice(let address):
            let result = try await runner.run(["xl", "pci-assignable-remove", "-r", address.description], timeout: .seconds(60))
            calls.append(result.evidence)
            if !result.succeeded { throw TeardownFailed(evidence: result) }
        case .file(let path):
            let result = try await runner.run(["rm", "-f", path], timeout: .seconds(30))
            calls.append(result.evidence)
        }
        return calls
    }

    public func leftovers() async throws -> [String] {
        let result = try await runner.run(["xl", "list"], timeout: .seconds(30))
        guard result.succeeded else { throw TeardownFailed(evidence: result) }
        return try XLParse.list(result.stdout).map(\.name).filter { $0.hasPrefix("xentest-") }.sorted()
    }

    public func removeLeftover(_ name: String) async throws -> [Evidence] {
        precondition(name.hasPrefix("xentest-"), "only xentest's own objects are ever removed")
        let result = try await runner.run(["xl", "destroy", name], timeout: .seconds(60))
        if !result.succeeded { throw TeardownFailed(evidence: result) }
        return [result.evidence]
    }

    func configPath(_ domainName: String) -> String { configDirectory + "/" + domainName + ".cfg" }

    /// What went wrong, in plain words, followed by xl's own text: plans match expected failures against xl's words
    /// (`maxcpus is 4`), testers read the explanation.
    static func problem(in stderr: String) -> String {
        let parsed = XLParse.stderr(stderr)
        guard let primary = parsed.primaryProblem else { return stderr.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let explanation = primary.explanation, explanation != primary.text else { return primary.text }
        return "\(explanation) (xl: \(primary.text))"
    }
}

/// A command that should have undone something did not.
public struct TeardownFailed: Error, CustomStringConvertible {
    public var evidence: CommandResult
    public var description: String {
        "\(evidence.argv.joined(separator: " ")) failed (exit \(evidence.status)): \(XLBackend.problem(in: evidence.stderr))"
    }
}
