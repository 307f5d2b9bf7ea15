import Dispatch
import Foundation
import Libvirt
import Synchronization
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

/// The libvirt toolstack, through the C API, on any URI: `xen:///system`, `qemu:///system`, `test:///default`.
public final class LibvirtBackend: Backend {
    /// Always `libvirt`.
    public let kind = BackendKind.libvirt
    /// The driver behind the URI, from `virConnectGetType`: xen, qemu or test.
    public let driver: HypervisorDriver
    /// The connection every call goes through: the one opened last (see `liveConnection`).
    public var connection: LibvirtConnection { current.withLock { $0 } }
    let current: Mutex<LibvirtConnection>
    /// Held while a lost connection is opened again, so concurrent calls reopen it once.
    let reconnecting = NSLock()
    /// How long a lost connection is tried again (also bounded by the step's or teardown's time limit): libvirtd
    /// restarted by a package upgrade or a tester answers again within seconds.
    let reconnectPatience = PlanDuration.seconds(30)
    /// Whether the host can pass PCI devices through, once known: libvirt's `<iommu support='yes'/>` on QEMU (read
    /// when connecting); on Xen, whose libxl driver never reports an IOMMU, Xen's own `virt_caps` read on the host
    /// (`collectFacts`). Nil while nothing can tell.
    public var hostIOMMU: Bool? { iommu.withLock { $0 } }
    let iommu: Mutex<Bool?>
    /// Why Xen's IOMMU is unknown though there is a shell on its host.
    let xlInfoProblem = Mutex<String?>(nil)
    /// A shell on the hypervisor's host (dom0 on Xen): this machine for a local URI, the tester's `--host` (or the
    /// lab's SSH) for a remote one, nil when there is none. It reads what libvirt does not report (bridges, the
    /// kernel, Xen's IOMMU) and runs the host's side of `ping: guest`.
    public let hostShell: (any CommandRunner)?
    /// How many vCPUs libvirt lets a running guest have (`virConnectGetMaxVcpus`): on Xen, the host's CPUs, as
    /// libvirt's libxl driver refuses more live vCPUs than that (xl overcommits); nil when libvirt does not say.
    public let liveVcpuLimit: Int?
    /// How often a request the guest must act on is made again while it has not: QEMU's ACPI power-button press
    /// and its PCI unplug request are lost on a guest that is not listening yet (still booting).
    let guestRequestRepeat = PlanDuration.seconds(5)
    /// Guests' consoles being closed: the next one of a domain opens after (see `LibvirtGuestConsole`).
    let consoleClosings = ConsoleClosings()

    /// Opens `uri`; a URI that cannot be used is `BackendUnavailable` with what to do instead. `hostShell` reaches
    /// the hypervisor's host when `uri` names another machine (for a local URI it is this machine's shell).
    public init(uri: String, hostShell: (any CommandRunner)? = nil) throws(BackendUnavailable) {
        let connection: LibvirtConnection
        do { connection = try LibvirtConnection(uri: uri) } catch {
            throw BackendUnavailable(Self.explain(error, uri: uri))
        }
        current = Mutex(connection)
        let type: String
        do { type = try connection.driverType } catch { throw BackendUnavailable(Self.explain(error, uri: uri)) }
        guard let dialect = HypervisorDriver(libvirtDriverType: type) else {
            throw BackendUnavailable(
                "libvirt driver '\(type)' at \(uri) is not supported; use xen://, qemu:// or test://"
            )
        }
        driver = dialect
        iommu = Mutex(
            dialect == .xen ? nil : (try? connection.capabilitiesXML()).map { LibvirtXML($0).hostHasIOMMU } ?? false
        )
        self.hostShell =
            hostShell ?? (HostFacts.isLocalLibvirtURI((try? connection.uri) ?? uri) ? LocalCommandRunner() : nil)
        liveVcpuLimit = dialect == .xen ? try? connection.maxVcpus(type: "xen") : nil
    }

    /// The Xen host's inventory through its shell, on libvirt's libxl driver only: on QEMU the shell is this machine's,
    /// whose logs are not the hypervisor's.
    public func readInventory() async -> InventoryReading? {
        guard driver == .xen, let hostShell else { return nil }
        return await InventoryReading.read(through: hostShell, runDirectories: ["/var/lib/xentest"])
    }

    /// On QEMU the run gives each guest that needs a network an isolated one of its own (see `ownNetworkName`).
    public var makesOwnNetwork: Bool { driver == .qemu }

    /// One clear message for the ways a URI fails, with what to do next.
    static func explain(_ error: LibvirtError, uri: String) -> String {
        if error.message.contains("libvirt-sock") || error.message.contains("Failed to connect socket") {
            let hint =
                uri.hasPrefix("xen") ? "no Xen hypervisor here (libvirtd is not running)" : "libvirtd is not running"
            return
                "cannot connect to \(uri): \(hint). Start libvirtd, or run on libvirt's simulated host: --connect test:///default"
        }
        if error.message.contains("libxenlight state driver is not active") {
            return "cannot connect to \(uri): no Xen hypervisor here (libvirt's libxl driver is not active). "
                + "Run on a Xen host, or on libvirt's simulated host: --connect test:///default"
        }
        return "cannot connect to \(uri): \(error.message)"
    }

    /// The action, by concern: each runs its blocking calls off the cooperative pool and keeps them as evidence.
    private func dispatch(_ action: Action, _ session: CaseSession) async throws -> ActionOutcome {
        let calls = CallLog()
        switch action {
        case .create(let paused): return try await create(paused: paused, session, calls)
        case .destroy: return try await destroy(session, calls)
        case .pause, .unpause: return try await pauseOrResume(action, session, calls)
        case .list: return try await listing(session, calls)
        case .save: return try await save(session)
        case .restore: return try await restore(session)
        case .reboot: return try await reboot(session)
        case .memSet, .memMax: return try await setMemory(action, session, calls)
        case .migrate:
            return .failure(unsupportedReason(for: action, guest: session.guest?.spec) ?? "not supported", [])
        case .waitForState(let wanted): return try await waitForState(wanted, name: session.domainName)
        case .waitForConsole(let pattern): return try await GuestSteps.waitForConsole(pattern, on: console(session))
        case .stayUp(let duration):
            return try await GuestSteps.stayUp(for: duration) { try await self.listingWithID(session, CallLog()) }
        case .shutdown: return try await shutdown(session)
        case .vcpuSet(let count): return try await setVcpus(count, session)
        case .vcpuList: return try await vcpuList(session, calls)
        case .vcpuPin(let vcpu, let cpus): return try await pinVcpu(vcpu, to: cpus, session, calls)
        case .pciAssignableAdd, .pciAssignableRemove, .pciAssignableList, .pciAttach, .pciDetach, .pciList:
            return try await pci(action, session, calls)
        case .networkAttach: return try await networkAttach(session, calls)
        case .networkDetach: return try await networkDetach(session)
        case .networkList: return try await networkList(session, calls)
        case .blockAttach(let disk): return try await blockAttach(disk, session, calls)
        case .blockDetach: return try await blockDetach(session)
        case .blockList: return try await blockList(session, calls)
        case .cdInsert, .cdEject: return try await changeMedium(action, session, calls)
        case .guestExec(let command): return try await GuestSteps.exec(command, on: console(session))
        case .ping(let direction):
            return try await GuestSteps.ping(direction, of: session, hostShell: hostShell, console: console(session))
        case .xenstoreRead:
            return .failure(unsupportedReason(for: action, guest: session.guest?.spec) ?? "not supported", [])
        case .pingGuest(let name): return try await GuestSteps.ping(guest: name, of: session, console: console(session))
        }
    }

    /// Why this driver and host cannot do `action`: what libvirt's test driver lacks (a paused start, detaching node
    /// devices, hot-plug), PCI work while the host has no IOMMU or cannot tell, more live vCPUs than libvirt allows on
    /// Xen, `ping: guest` without a shell on the hypervisor's host, and any xenstore read; nil when it can.
    public func unsupportedReason(for action: Action, guest: GuestSpec?) -> String? {
        switch (driver, action) {
        case (.test, .create(paused: true)):
            "libvirt's test driver cannot start a domain paused (virDomainCreateWithFlags: unsupported flags)"
        case (.test, .pciAssignableAdd), (.test, .pciAssignableRemove), (.test, .pciAssignableList):
            "libvirt's test driver cannot detach node devices (virNodeDeviceDetachFlags is not supported)"
        case (.test, .pciAttach), (.test, .pciDetach), (.test, .networkAttach), (.test, .networkDetach),
            (.test, .blockAttach), (.test, .blockDetach):
            "libvirt's test driver cannot hot-plug devices (virDomainAttachDeviceFlags is not supported)"
        case (.test, .cdInsert), (.test, .cdEject):
            "libvirt's test driver cannot change a device's medium (virDomainUpdateDeviceFlags is not supported)"
        case (.test, .guestExec), (.test, .ping):
            // The test-guest requirement already says the test driver runs no guest code.
            nil
        case (_, .pciAssignableAdd), (_, .pciAssignableRemove), (_, .pciAssignableList), (_, .pciAttach),
            (_, .pciDetach):
            // Decided before anything is touched: libvirt would refuse the detach or the <hostdev> itself.
            switch hostIOMMU {
            case true: nil
            case false where driver == .xen:
                "Xen has no IOMMU enabled on this host (no pv_directio or hvm_directio in xl info's virt_caps): "
                    + "it cannot pass PCI devices through"
            case false:
                "libvirt reports no IOMMU on this host (<iommu support='no'/> in its capabilities): "
                    + "it cannot detach PCI devices from their host drivers or pass them through"
            case nil:
                "libvirt's libxl driver does not report whether Xen has an IOMMU (its capabilities always say "
                    + "<iommu support='no'/>), and "
                    + (xlInfoProblem.withLock { $0 }
                        ?? "xentest has no shell on \(connection.requestedURI) to read xl info: give it one with "
                        + "--host ssh://root@HOST")
            }
        case (.xen, .vcpuSet(let count)):
            Self.liveVcpuLimitReason(count: count, guestMaximum: guest?.maxvcpus, limit: liveVcpuLimit)
        case (_, .ping(.guest)):
            hostShell != nil
                ? nil
                : "the hypervisor is on another machine (\(connection.requestedURI)) and xentest has no shell there to "
                    + "ping its guests from: give it one with --host ssh://root@HOST"
        case (_, .xenstoreRead): "xenstore is read through the xl backend only"
        case (_, .migrate):
            "libvirt migrates a guest only to another host (virDomainMigrate refuses its own as the destination); "
                + "xl migrates it locally"
        case (.qemu, .memMax), (.test, .memMax):
            "libvirt's \(driver == .qemu ? "QEMU" : "test") driver cannot change a running guest's maximum memory "
                + "(virDomainSetMaxMemory: cannot resize the maximum memory on an active domain)"
        case (_, .save), (_, .restore):
            driver == .test || hostShell != nil
                ? nil
                : "save writes a file on the hypervisor's host (\(connection.requestedURI)), and xentest has no shell "
                    + "there to remove it afterwards: give it one with --host ssh://root@HOST"
        default: nil
        }
    }

    /// A guest whose `xl-config:` sets keys libvirt has no equivalent for (see `XLConfigMapping`): libvirt would build
    /// another guest than the plan's.
    public func unsupportedReason(forGuest guest: GuestSpec) -> String? {
        let keys = XLConfigMapping.unmappedKeys(guest)
        guard !keys.isEmpty else { return nil }
        return "xl-config keys with no libvirt mapping: \(keys.joined(separator: ", ")); runs on xl only"
    }

    /// Performs `action` on a live connection: one that died since the last action (libvirtd went away) is opened
    /// again first. An action that fails because the connection died under it is a `BackendFailure` (the case
    /// errors: the environment broke, not the expectation), with the calls made up to then.
    public func perform(_ action: Action, in session: CaseSession) async throws -> ActionOutcome {
        let reopened = try await reconnectIfLost()
        var outcome: ActionOutcome
        do { outcome = try await dispatch(action, session) } catch let error as LibvirtError {
            guard let lost = connectionLoss() else { throw error }
            throw BackendFailure(
                "\(lost); \(error)",
                evidence: reopened + (StepActivity.current?.evidenceSoFar() ?? [])
            )
        }
        outcome.evidence = reopened + outcome.evidence
        if !outcome.succeeded, let lost = connectionLoss() {
            throw BackendFailure(
                "\(lost); the step ended with: \(outcome.errorMessage ?? "no message")",
                evidence: outcome.evidence
            )
        }
        return outcome
    }
}
