import Foundation
import Synchronization
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

/// The xl toolstack: every action is an `xl` command (or a dom0 tool) run through a `CommandRunner`, on this
/// machine or on a Xen host over SSH, with its output parsed into typed values.
public final class XLBackend: Backend {
    /// Always `xl`.
    public let kind = BackendKind.xl
    /// Always `xen`: xl drives Xen only.
    public let driver = HypervisorDriver.xen
    /// Where commands run.
    public let runner: any CommandRunner
    /// The folder on the Xen host where guests' xl.cfg files are written.
    public let configDirectory: String
    /// Whether the host's facts come from libxl in this process (xentest runs in dom0) rather than `xl info`.
    public let readsLibxl: Bool
    /// Whether `configDirectory` is known to exist: made by the first create of the run, not by every one (over SSH
    /// each command is a round trip).
    let configDirectoryMade = Mutex(false)
    /// Whether dom0's `xenstore-watch` works (`awaitXenstoreChange`): nil until first tried.
    let xenstoreWatchWorks = Mutex<Bool?>(nil)

    /// xl through `runner`; configs go to `configDirectory` on the Xen host. With `readsLibxl` (only where this
    /// process runs in dom0), the host's facts are read from libxl, and from `xl info` if libxl cannot be asked.
    public init(runner: any CommandRunner, configDirectory: String = "/var/lib/xentest", readsLibxl: Bool = false) {
        self.runner = runner
        self.configDirectory = configDirectory
        self.readsLibxl = readsLibxl
    }

    /// Always nil: xl can perform every action a plan can name.
    public func unsupportedReason(for action: Action, guest: GuestSpec?) -> String? { nil }

    /// Runs the action's xl commands through `runner` and parses what they print (`guest-exec` and `ping` go through
    /// the guest's console and dom0's shell); a command that fails is a failed outcome, its message xl's problem in
    /// plain words.
    public func perform(_ action: Action, in session: CaseSession) async throws -> ActionOutcome {
        var step = XLStep(backend: self, session: session)
        switch action {
        case .create: return try await create(action, &step)
        case .destroy, .shutdown: return try await stop(action, &step)
        case .list: return try await list(&step)
        case .waitForState(let wanted): return try await waitForState(wanted, &step)
        case .waitForConsole(let pattern): return try await GuestSteps.waitForConsole(pattern, on: console(session))
        case .stayUp(let duration):
            return try await GuestSteps.stayUp(for: duration) {
                var look = XLStep(backend: self, session: session)
                switch try await look.listing() {
                case .success(let seen): return (.success(look.calls, observation: .state(seen.state)), seen.domid)
                case .failure(let failed): return (look.failure(failed.result), nil)
                }
            }
        case .pause, .unpause, .vcpuSet, .vcpuPin, .pciAttach, .pciDetach, .memSet, .memMax:
            return try await step.xlSucceeds(action)
        case .save: return try await save(&step)
        case .restore: return try await restore(&step)
        case .migrate(let times): return try await migrate(times: times, &step)
        case .reboot: return try await reboot(&step)
        case .vcpuList: return try await vcpuList(&step)
        case .pciList, .pciAssignableList, .pciAssignableAdd, .pciAssignableRemove: return try await pci(action, &step)
        case .networkList, .networkAttach, .networkDetach: return try await network(action, &step)
        case .blockAttach, .blockDetach, .blockList: return try await disks(action, &step)
        case .cdInsert, .cdEject: return try await cdrom(action, &step)
        case .xenstoreRead(let path): return try await xenstoreRead(path, &step)
        case .pingGuest(let name): return try await GuestSteps.ping(guest: name, of: session, console: console(session))
        case .guestExec(let command): return try await GuestSteps.exec(command, on: console(session))
        case .ping(let direction):
            return try await GuestSteps.ping(direction, of: session, hostShell: runner, console: console(session))
        }
    }

    func configPath(_ domainName: String) -> String { configDirectory + "/" + domainName + ".cfg" }

    /// The Xen host's inventory, through the same runner as every xl command; the config folder is the run's own.
    public func readInventory() async -> InventoryReading? {
        await InventoryReading.read(through: runner, runDirectories: [configDirectory])
    }

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
    /// The command that failed.
    public var evidence: CommandResult
    /// The command, its exit status, and xl's problem in plain words.
    public var description: String {
        "\(evidence.argv.joined(separator: " ")) failed (exit \(evidence.status)): \(XLBackend.problem(in: evidence.stderr))"
    }
}
