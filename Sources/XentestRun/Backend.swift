import XentestPlan
import XentestSupport
/// A toolstack the runner drives: xl, or libvirt on some driver.
///
/// Backends perform actions and report what they observed; they never judge. The runner compares the
/// observation with the step's expectation, so every backend is judged by the same rules.
public protocol Backend: AnyObject, Sendable {
    /// Which toolstack this is.
    var kind: BackendKind { get }
    /// The hypervisor driver, for scoping known issues.
    var driver: HypervisorDriver { get }

    /// Collects the host's facts, those about the devices `host` names included; called once, before anything is
    /// created.
    func collectFacts(host: HostConfig) async throws -> HostFacts

    /// Why this backend cannot perform `action` on `guest` (the case's, if any) here, or nil when it can.
    func unsupportedReason(for action: Action, guest: GuestSpec?) -> String?

    /// Why this backend cannot build `guest` as the plan describes it (settings it has no way to express), or nil
    /// when it can; a case with such a guest is skipped with the reason.
    func unsupportedReason(forGuest guest: GuestSpec) -> String?

    /// Performs one action of a case; a failed action is an outcome, a broken backend is a thrown error.
    func perform(_ action: Action, in session: CaseSession) async throws -> ActionOutcome

    /// Waits, at most `seconds`, for the toolstack to tell of a change that may give `action` another answer in the
    /// case's guest (before a `retry-for` step's next attempt); returns whether it waited on such an event, false at
    /// once when it has none for `action` (the runner then waits a moment and asks again).
    func awaitChange(relevantTo action: Action, in session: CaseSession, atMost seconds: Int) async throws -> Bool

    /// Undoes one thing a case created (teardown); returns its evidence, throws when it could not.
    func undo(_ entry: LedgerEntry, in session: CaseSession) async throws -> [Evidence]

    /// Names of domains and networks that earlier runs left behind (`xentest-*`), then the absolute paths of the
    /// files they left on the hypervisor's host (`FOLDER/xentest-*`), for `xentest clean`.
    func leftovers() async throws -> [String]

    /// Removes leftovers by name; only names that `leftovers()` returned are ever passed.
    func removeLeftover(_ name: String) async throws -> [Evidence]

    /// Whether the backend gives a case's guest an isolated network of its own when the host file names neither
    /// a bridge nor a libvirt network; the `bridge` prerequisite is then met without one.
    var makesOwnNetwork: Bool { get }

    /// Whether the backend resets a PCI device before it passes it through, and refuses one it cannot reset
    /// (libvirt does; xl does not): a case that passes through a device without a reset method is then skipped.
    var resetsPCIDevicesBeforePassthrough: Bool { get }

    /// The toolstack's own logs of the case's guest (their last lines), kept as evidence when a case does not pass,
    /// before teardown: what libxl, the device model or the guest's console said. Empty when there are none.
    func logs(for session: CaseSession) async -> [Evidence]

    /// What a case can leave behind on the Xen host and the tails of its logs, read before each case and after its
    /// teardown (`HostInventory`); nil when this backend has no Xen host to look at (QEMU, the test driver).
    func readInventory() async -> InventoryReading?
}

extension Backend {
    /// Any guest the plan language describes.
    public func unsupportedReason(forGuest guest: GuestSpec) -> String? { nil }
    /// Most backends put guests' interfaces only where the host file says.
    public var makesOwnNetwork: Bool { false }
    /// Most backends pass a device through as it is.
    public var resetsPCIDevicesBeforePassthrough: Bool { false }
    /// No event: the runner polls.
    public func awaitChange(relevantTo action: Action, in session: CaseSession, atMost seconds: Int) async throws
        -> Bool
    { false }
    /// None: a backend that keeps no logs of its own adds no evidence.
    public func logs(for session: CaseSession) async -> [Evidence] { [] }
    /// None: without a Xen host there is nothing to take stock of.
    public func readInventory() async -> InventoryReading? { nil }
}

/// The last lines of each of `paths`, read through `shell` (a log that does not exist is left out).
package func logTails(_ paths: [String], through shell: any CommandRunner) async -> [Evidence] {
    var evidence: [Evidence] = []
    for path in paths {
        guard let result = try? await shell.run(["tail", "-n", "40", path], timeout: .seconds(15)), result.succeeded
        else { continue }
        evidence.append(result.evidence)
    }
    return evidence
}

/// The backend broke in the middle of an action or a teardown: the toolstack went away (libvirtd stopped), which
/// is an error of the environment, not a failed expectation. Keeps the calls made up to then.
public struct BackendFailure: Error, CustomStringConvertible {
    /// What broke, with the toolstack's own words.
    public var message: String
    /// The calls made before and while it broke.
    public var evidence: [Evidence]

    /// A failure saying `message`, with the calls made up to then.
    public init(_ message: String, evidence: [Evidence]) {
        self.message = message
        self.evidence = evidence
    }

    /// The message.
    public var description: String { message }
}

/// The case cannot run on this host, for a reason only the run could find out (a disk of the tester's own guest
/// that cannot be overlaid): the case is skipped with `reason`, its teardown still runs. Thrown before anything the
/// reason concerns is touched.
public struct CaseCannotRun: Error, CustomStringConvertible {
    /// Why, for the tester.
    public var reason: String
    /// The calls that found it out.
    public var evidence: [Evidence]

    /// The case is skipped because `reason`, found by the calls in `evidence`.
    public init(_ reason: String, evidence: [Evidence]) {
        self.reason = reason
        self.evidence = evidence
    }

    /// The reason.
    public var description: String { reason }
}

/// What an action did and what the backend saw.
public struct ActionOutcome: Sendable {
    /// Whether the toolstack reported success.
    public var succeeded: Bool
    /// The toolstack's error message when it did not.
    public var errorMessage: String?
    /// What a query action observed.
    public var observation: Observation?
    /// The calls made, with their results.
    public var evidence: [Evidence]

    /// A successful outcome.
    public static func success(_ evidence: [Evidence], observation: Observation? = nil) -> ActionOutcome {
        ActionOutcome(succeeded: true, errorMessage: nil, observation: observation, evidence: evidence)
    }

    /// A failed outcome with the toolstack's message.
    public static func failure(_ message: String, _ evidence: [Evidence]) -> ActionOutcome {
        ActionOutcome(succeeded: false, errorMessage: message, observation: nil, evidence: evidence)
    }
}

/// What a query observed, in neutral terms.
public enum Observation: Sendable, Hashable, CustomStringConvertible {
    case state(GuestState)
    /// What the toolstack lists for the guest: its state and, while it exists, its memory now in MiB.
    case listing(GuestState, memoryMiB: Int?)
    /// The guest's vCPUs: how many are online, and each one's hard affinity (`all` when it may run on every CPU).
    case vcpus(online: Int, affinity: [Int: CPUSet])
    case pciDevices([PCIAddress])
    case interfaces(Int)
    /// How many disks the toolstack lists for the guest and, when the guest can be asked, the disks it sees in
    /// `/sys/block` (`xvda`, `vdb`).
    case disks(listed: Int, inGuest: [String]?)
    case text(String)
    case commandOutput(exitStatus: Int, output: String)

    /// In words for a failure message: `state running`, `2 vCPUs online`, `exit 0, output '...'`.
    public var description: String {
        switch self {
        case .state(let state): "state \(state.rawValue)"
        case .listing(let state, let memory): "state \(state.rawValue)" + (memory.map { ", \($0) MiB" } ?? "")
        case .vcpus(let online, let affinity):
            "\(online) vCPUs online"
                + (affinity.isEmpty
                    ? ""
                    : ", "
                        + affinity.sorted { $0.key < $1.key }.map { "vCPU \($0.key) on \($0.value)" }
                        .joined(separator: ", "))
        case .pciDevices(let devices):
            devices.isEmpty ? "no PCI devices" : devices.map(\.description).joined(separator: ", ")
        case .interfaces(let count): "\(count) interface\(count == 1 ? "" : "s")"
        case .disks(let listed, let inGuest):
            "\(listed) disk\(listed == 1 ? "" : "s") listed"
                + (inGuest.map { ", the guest sees " + ($0.isEmpty ? "none" : $0.joined(separator: " ")) } ?? "")
        case .text(let text): "'\(text)'"
        case .commandOutput(let status, let output): "exit \(status), output '\(output)'"
        }
    }
}

/// A backend that cannot be used at all: the run stops with exit status 2 before any case.
public struct BackendUnavailable: Error, CustomStringConvertible {
    /// What is wrong and what to do.
    public var message: String
    /// An unusable backend, for the reason `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
