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
    public let kind = BackendKind.libvirt
    public let driver: HypervisorDriver
    /// The connection every call goes through: the one opened last (see `liveConnection`).
    public var connection: LibvirtConnection { current.withLock { $0 } }
    private let current: Mutex<LibvirtConnection>
    /// Held while a lost connection is opened again, so concurrent calls reopen it once.
    private let reconnecting = NSLock()
    /// How long a lost connection is tried again (also bounded by the step's or teardown's time limit): libvirtd
    /// restarted by a package upgrade or a tester answers again within seconds.
    let reconnectPatience = PlanDuration.seconds(30)
    /// The XML dialect of this connection's driver.
    public let dialect: LibvirtDialect
    /// Whether the host can pass PCI devices through, once known: libvirt's `<iommu support='yes'/>` on QEMU (read
    /// when connecting); on Xen, whose libxl driver never reports an IOMMU, Xen's own `virt_caps` read on the host
    /// (`collectFacts`). Nil while nothing can tell.
    public var hostIOMMU: Bool? { iommu.withLock { $0 } }
    private let iommu: Mutex<Bool?>
    /// Why Xen's IOMMU is unknown though there is a shell on its host.
    private let xlInfoProblem = Mutex<String?>(nil)
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
        do {
            connection = try LibvirtConnection(uri: uri)
        } catch {
            throw BackendUnavailable(Self.explain(error, uri: uri))
        }
        current = Mutex(connection)
        let type: String
        do {
            type = try connection.driverType
        } catch {
            throw BackendUnavailable(Self.explain(error, uri: uri))
        }
        guard let dialect = LibvirtDialect(driverType: type) else {
            throw BackendUnavailable("libvirt driver '\(type)' at \(uri) is not supported; use xen://, qemu:// or test://")
        }
        self.dialect = dialect
        driver = dialect.driver
        iommu = Mutex(
            dialect == .xen ? nil : (try? connection.capabilitiesXML())?.contains("<iommu support='yes'/>") ?? false
        )
        self.hostShell = hostShell ?? (HostFacts.isLocalLibvirtURI((try? connection.uri) ?? uri) ? LocalCommandRunner() : nil)
        liveVcpuLimit = dialect == .xen ? try? connection.maxVcpus(type: "xen") : nil
    }

    /// Why libvirt's libxl driver will refuse `vcpu-set count`: more live vCPUs than `limit` (the host's CPUs), for a
    /// guest whose maximum allows them. A count above the guest's maximum is refused by every toolstack, so a step
    /// may expect that refusal: no reason then.
    static func liveVcpuLimitReason(count: Int, guestMaximum: Int?, limit: Int?) -> String? {
        guard let limit, let guestMaximum, count <= guestMaximum, count > limit else { return nil }
        return "libvirt's libxl driver refuses more live vCPUs than the host's \(limit) CPUs "
            + "(virDomainSetVcpusFlags: requested vcpus is greater than max allowable vcpus); xl allows it"
    }


    /// On QEMU the run gives each guest that needs a network an isolated one of its own (see `ownNetworkName`).
    public var makesOwnNetwork: Bool { dialect == .qemu }

    /// One clear message for the ways a URI fails, with what to do next.
    static func explain(_ error: LibvirtError, uri: String) -> String {
        if error.message.contains("libvirt-sock") || error.message.contains("Failed to connect socket") {
            let hint = uri.hasPrefix("xen") ? "no Xen hypervisor here (libvirtd is not running)" : "libvirtd is not running"
            return "cannot connect to \(uri): \(hint). Start libvirtd, or run on libvirt's simulated host: --connect test:///default"
        }
        if error.message.contains("libxenlight state driver is not active") {
            return "cannot connect to \(uri): no Xen hypervisor here (libvirt's libxl driver is not active). "
                + "Run on a Xen host, or on libvirt's simulated host: --connect test:///default"
        }
        return "cannot connect to \(uri): \(error.message)"
    }

    public func collectFacts(host: HostConfig) async throws -> HostFacts {
        var facts = try await Self.offPool { [self] in
            let node = try connection.nodeInfo()
            // Some hosts cannot say (libvirt's test driver on a host file without NUMA cells): unknown, not zero.
            let free = try? connection.freeMemoryBytes()
            let capabilities = try connection.capabilitiesXML()
            var bridges: [String] = []
            for network in try connection.networks() where try network.isActive {
                bridges.append(network.name)
                if let bridge = try? network.bridgeName { bridges.append(bridge) }
            }
            let osTypes = Set(Self.values(of: "os_type", in: capabilities))
            let hypervisor = try connection.hypervisorVersion.description
            return HostFacts(
                hostname: try connection.hostname,
                toolstack: "libvirt \(try connection.driverType) driver",
                libvirtURI: try connection.uri,
                libvirtDriver: try connection.driverType,
                libvirtVersion: try connection.libraryVersion.description,
                hypervisorVersion: hypervisor,
                xenVersion: dialect == .xen ? hypervisor : nil,
                cpuModel: node.model,
                cpus: node.cpus,
                totalMemoryMiB: Int(node.memoryKiB / 1024),
                freeMemoryMiB: free.map { Int($0 / 1024 / 1024) },
                virtCaps: osTypes.sorted(),
                iommu: dialect == .test ? false : hostIOMMU,
                hvm: osTypes.contains("hvm"),
                pvh: osTypes.contains("xenpvh"),
                bridges: bridges,
                runsGuestCode: dialect != .test
            )
        }
        if dialect != .test, let shell = hostShell {
            try await readHost(through: shell, into: &facts)
            facts.pciDevicesWithoutReset = try await Self.devicesWithoutReset(
                host.pciDevices.values.map(\.address),
                through: shell
            )
        }
        if facts.iommu == true, dialect != .xen { facts.virtCaps.append("iommu") }
        facts.bridges = Array(Set(facts.bridges)).sorted()
        return facts
    }

    /// What libvirt does not report, read on the hypervisor's host: its bridges and kernel, and on Xen whether
    /// Xen has an IOMMU (`xl info`'s virt_caps; libvirt's libxl driver always says `<iommu support='no'/>`).
    private func readHost(through shell: any CommandRunner, into facts: inout HostFacts) async throws {
        let kernel = try await shell.run(["uname", "-r"], timeout: .seconds(30))
        guard kernel.succeeded else {
            throw BackendUnavailable(
                "the hypervisor's host does not answer through \(shell) (`uname -r` exit \(kernel.status)): "
                    + (kernel.stderr.trimmed.isEmpty ? kernel.stdout.trimmed : kernel.stderr.trimmed)
            )
        }
        facts.kernel = kernel.stdout.trimmed
        let bridges = try await shell.run(HostShellQuery.bridges, timeout: .seconds(30))
        facts.bridges += HostShellQuery.bridgeNames(bridges.stdout)
        guard dialect == .xen else { return }
        let info = try await shell.run(["xl", "info"], timeout: .seconds(30))
        if info.succeeded, let parsed = try? XLParse.info(info.stdout) {
            // libvirt's version of Xen leaves the patch level out (4.17.0 for 4.17.7): known issues scoped to Xen
            // versions need it.
            facts.xenVersion = parsed.xenVersion
            facts.hypervisorVersion = parsed.xenVersion
            facts.virtCaps = parsed.virtCaps
            iommu.withLock { $0 = parsed.canPassThroughPCI }
            facts.iommu = parsed.canPassThroughPCI
        } else {
            xlInfoProblem.withLock { $0 = "`xl info` on \(shell) failed (exit \(info.status)): \(info.stderr.trimmed.suffix(200))" }
        }
    }

    public func unsupportedReason(for action: Action, guest: GuestSpec?) -> String? {
        switch (dialect, action) {
        case (.test, .create(paused: true)):
            "libvirt's test driver cannot start a domain paused (virDomainCreateWithFlags: unsupported flags)"
        case (.test, .pciAssignableAdd), (.test, .pciAssignableRemove), (.test, .pciAssignableList):
            "libvirt's test driver cannot detach node devices (virNodeDeviceDetachFlags is not supported)"
        case (.test, .pciAttach), (.test, .pciDetach), (.test, .networkAttach), (.test, .networkDetach):
            "libvirt's test driver cannot hot-plug devices (virDomainAttachDeviceFlags is not supported)"
        case (.test, .guestExec), (.test, .ping):
            nil  // the test-guest requirement already says the test driver runs no guest code
        case (_, .pciAssignableAdd), (_, .pciAssignableRemove), (_, .pciAssignableList), (_, .pciAttach), (_, .pciDetach):
            // Decided before anything is touched: libvirt would refuse the detach or the <hostdev> itself.
            switch hostIOMMU {
            case true: nil
            case false where dialect == .xen:
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
        case (_, .xenstoreRead):
            "xenstore is read through the xl backend only"
        default: nil
        }
    }

    /// Performs `action` on a live connection: one that died since the last action (libvirtd went away) is opened
    /// again first. An action that fails because the connection died under it is a `BackendFailure` (the case
    /// errors: the environment broke, not the expectation), with the calls made up to then.
    public func perform(_ action: Action, in session: CaseSession) async throws -> ActionOutcome {
        let reopened = try await reconnectIfLost()
        var outcome: ActionOutcome
        do {
            switch action {
            case .waitForState(let wanted): outcome = try await waitForState(wanted, name: session.domainName)
            case .shutdown: outcome = try await shutdown(session)
            case .guestExec(let command): outcome = try await guestExec(command, session)
            case .ping(let target): outcome = try await ping(target, session)
            case .networkDetach: outcome = try await networkDetach(session)
            case .vcpuSet(let count) where dialect == .qemu: outcome = try await setVcpus(count, session)
            default: outcome = try await Self.offPool { [self] in try performBlocking(action, in: session) }
            }
        } catch let error as LibvirtError {
            guard let lost = connectionLoss() else { throw error }
            throw BackendFailure("\(lost); \(error)", evidence: reopened + (StepActivity.current?.evidenceSoFar() ?? []))
        }
        outcome.evidence = reopened + outcome.evidence
        if !outcome.succeeded, let lost = connectionLoss() {
            throw BackendFailure("\(lost); the step ended with: \(outcome.errorMessage ?? "no message")", evidence: outcome.evidence)
        }
        return outcome
    }

    // MARK: The connection

    /// Why the current connection is dead (its daemon went away), or nil while it lives.
    func connectionLoss() -> String? {
        let connection = self.connection
        guard !connection.isAlive else { return nil }
        let why = connection.closeReason.map { ": \($0)" } ?? ""
        return "lost the connection to libvirt at \(connection.requestedURI)\(why)"
    }

    /// Opens the connection again if it died, trying until the daemon answers, `reconnectPatience` passes or the
    /// current task's deadline comes; returns the evidence of the attempts (none while the connection lives).
    private func reconnectIfLost() async throws -> [Evidence] {
        guard connectionLoss() != nil else { return [] }
        let deadline = TaskDeadline.current
        return try await Self.offPool { [self] in
            var calls = CallRecorder()
            try liveConnection(&calls, deadline: deadline)
            return calls.evidence
        }
    }

    /// The connection, opened again when the daemon behind it went away (e.g. libvirtd restarted): libvirt's
    /// domains, networks and devices outlive their daemon, so a new connection reaches what the old one made.
    /// Blocks between attempts; a `BackendFailure` with every attempt when the daemon does not answer in time.
    @discardableResult
    private func liveConnection(_ calls: inout CallRecorder, deadline: Date?) throws -> LibvirtConnection {
        reconnecting.lock()
        defer { reconnecting.unlock() }
        let lost = connection
        guard !lost.isAlive else { return lost }
        let loss = connectionLoss() ?? "lost the connection to libvirt at \(lost.requestedURI)"
        var giveUp = Date().addingTimeInterval(Double(reconnectPatience.milliseconds) / 1000)
        if let deadline, deadline < giveUp { giveUp = deadline }
        var delay = 0.2
        while true {
            do {
                let fresh = try calls.call("virConnectOpen", [lost.requestedURI]) { try LibvirtConnection(uri: lost.requestedURI) }
                current.withLock { $0 = fresh }
                lost.close()
                return fresh
            } catch let error as LibvirtError {
                guard Date().addingTimeInterval(delay) < giveUp else {
                    throw BackendFailure("\(loss), and it could not be opened again: \(error.message)", evidence: calls.evidence)
                }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 1)
            }
        }
    }

    /// The synchronous body of `perform`, on a thread outside Swift's cooperative pool.
    private func performBlocking(_ action: Action, in session: CaseSession) throws -> ActionOutcome {
        var calls = CallRecorder()
        let name = session.domainName
        do {
            switch action {
            case .create(let paused):
                guard let guest = guestWithNetwork(session) else { return .failure("the case has no guest", []) }
                let xml = DomainXMLRenderer.render(guest, dialect: dialect)
                // Recorded before the network too: the case's own network is torn down with its guest.
                session.record(.domain(name: name))
                if guest.spec.nics > 0 { try makeOwnNetwork(session, &calls) }
                let domain = try calls.call("virDomainDefineXML", [xml]) { try connection.defineDomain(xml: xml) }
                if paused {
                    try calls.call("virDomainCreateWithFlags", [name, "START_PAUSED"]) { try domain.createPaused() }
                } else {
                    try calls.call("virDomainCreate", [name]) { try domain.create() }
                }
                return .success(calls.evidence)
            case .destroy:
                let domain = try lookup(name, &calls)
                try calls.call("virDomainDestroy", [name]) { try domain.destroy() }
                try undefineIfPersistent(domain, &calls)
                try removeOwnNetwork(ofDomain: name, &calls)
                session.forget(.domain(name: name))
                return .success(calls.evidence)
            case .pause:
                let domain = try lookup(name, &calls)
                try calls.call("virDomainSuspend", [name]) { try domain.suspend() }
                return .success(calls.evidence)
            case .unpause:
                let domain = try lookup(name, &calls)
                try calls.call("virDomainResume", [name]) { try domain.resume() }
                return .success(calls.evidence)
            case .list:
                let state = try currentState(name, &calls)
                return .success(calls.evidence, observation: .state(state))
            case .vcpuSet(let count):
                let domain = try lookup(name, &calls)
                try calls.call("virDomainSetVcpusFlags", [name, String(count), "LIVE"]) {
                    try domain.setVcpuCount(count, scope: .live)
                }
                return .success(calls.evidence)
            case .vcpuList:
                let domain = try lookup(name, &calls)
                let count = try calls.call("virDomainGetVcpusFlags", [name, "LIVE"]) { try domain.vcpuCount(.live) }
                return .success(calls.evidence, observation: .onlineVcpus(count))
            case .pciAssignableAdd(let role), .pciAssignableRemove(let role):
                let address = try device(role, session)
                guard let node = try calls.call("virNodeDeviceLookupByName", [address.libvirtNodeDeviceName], {
                    try connection.nodeDevice(named: address.libvirtNodeDeviceName)
                }) else {
                    return .failure("libvirt knows no node device \(address.libvirtNodeDeviceName)", calls.evidence)
                }
                if case .pciAssignableAdd = action {
                    session.record(.assignablePCIDevice(address))
                    try calls.call("virNodeDeviceDetachFlags", [node.name]) { try node.detach() }
                } else {
                    try calls.call("virNodeDeviceReAttach", [node.name]) { try node.reattach() }
                    // Teardown gives it back unless it really left the stub driver (libvirt may leave it there).
                    if !Self.stubDrivers.contains(try boundDriver(node, &calls)) {
                        session.forget(.assignablePCIDevice(address))
                    }
                }
                return .success(calls.evidence)
            case .pciAssignableList:
                var assignable: [PCIAddress] = []
                for device in session.host.pciDevices.values.map(\.address).sorted() {
                    guard let node = try connection.nodeDevice(named: device.libvirtNodeDeviceName) else { continue }
                    if Self.stubDrivers.contains(try boundDriver(node, &calls)) { assignable.append(device) }
                }
                return .success(calls.evidence, observation: .pciDevices(assignable))
            case .pciAttach(let role), .pciDetach(let role):
                let domain = try lookup(name, &calls)
                let xml = DomainXMLRenderer.hostdevXML(try device(role, session))
                if case .pciAttach = action {
                    try calls.call("virDomainAttachDeviceFlags", [name, xml, "LIVE"]) { try domain.attachDevice(xml: xml) }
                } else {
                    try calls.call("virDomainDetachDeviceFlags", [name, xml, "LIVE"]) { try domain.detachDevice(xml: xml) }
                }
                return .success(calls.evidence)
            case .pciList:
                let domain = try lookup(name, &calls)
                let xml = try calls.call("virDomainGetXMLDesc", [name]) { try domain.xml() }
                return .success(calls.evidence, observation: .pciDevices(Self.hostdevAddresses(in: xml)))
            case .networkAttach:
                guard let guest = guestWithNetwork(session) else { return .failure("the case has no guest", []) }
                let domain = try lookup(name, &calls)
                let attached = session.withState { $0.attachedNICs }
                try makeOwnNetwork(session, &calls)
                let xml = DomainXMLRenderer.interfaceXML(guest, nic: guest.spec.nics + attached, dialect: dialect)
                try calls.call("virDomainAttachDeviceFlags", [name, xml, "LIVE"]) { try domain.attachDevice(xml: xml) }
                session.withState { $0.attachedNICs += 1 }
                return .success(calls.evidence)
            case .networkList:
                let domain = try lookup(name, &calls)
                let xml = try calls.call("virDomainGetXMLDesc", [name]) { try domain.xml() }
                return .success(calls.evidence, observation: .interfaces(xml.components(separatedBy: "<interface ").count - 1))
            case .waitForState, .shutdown, .guestExec, .ping, .networkDetach:
                preconditionFailure("\(action.name) is performed asynchronously, in perform(_:in:)")
            case .xenstoreRead:
                return .failure(unsupportedReason(for: action, guest: session.guest?.spec) ?? "not supported", [])
            }
        } catch let error as LibvirtError {
            return .failure(error.message, calls.evidence)
        }
    }

    private func lookup(_ name: String, _ calls: inout CallRecorder) throws -> LibvirtDomain {
        guard let domain = try calls.call("virDomainLookupByName", [name], { try connection.domain(named: name) }) else {
            throw LibvirtError(code: 42, domain: 0, message: "Domain not found: no domain with matching name '\(name)'", call: "virDomainLookupByName")
        }
        return domain
    }

    private func device(_ role: String, _ session: CaseSession) throws -> PCIAddress {
        guard let address = session.host.pciDevices[role]?.address else {
            throw LibvirtError(code: 8, domain: 0, message: "the host file names no PCI device for role '\(role)'", call: "host file")
        }
        return address
    }

    /// Destroys a running domain; one that stopped meanwhile is no failure. libvirtd, restarted, stops a guest it
    /// cannot reconnect to (seen with libvirtd 9.0 where its cgroups are not as it expects) while teardown looks.
    private func destroyIfActive(_ domain: LibvirtDomain, _ calls: inout CallRecorder) throws {
        guard try domain.isActive else { return }
        do {
            try calls.call("virDomainDestroy", [domain.name]) { try domain.destroy() }
        } catch let error as LibvirtError where error.isOperationInvalid {
            if try domain.isActive { throw error }
        }
    }

    private func undefineIfPersistent(_ domain: LibvirtDomain, _ calls: inout CallRecorder) throws {
        guard try domain.isPersistent else { return }
        try calls.call("virDomainUndefineFlags", [domain.name]) { try domain.undefine() }
    }

    private func currentState(_ name: String, _ calls: inout CallRecorder) throws -> GuestState {
        guard let domain = try calls.call("virDomainLookupByName", [name], { try connection.domain(named: name) }) else {
            return .gone
        }
        let state = try calls.call("virDomainGetInfo", [name]) { try domain.info().state }
        return Self.guestState(state)
    }

    static func guestState(_ state: DomainState) -> GuestState {
        switch state {
        case .running, .blocked: .running
        case .paused, .pmSuspended: .paused
        default: .shutoff
        }
    }

    /// Asks the guest to shut down and waits for libvirt's stopped event, then removes the definition (and the
    /// case's own network). The request is repeated every `guestRequestRepeat` while the guest runs: QEMU's ACPI
    /// power-button press is lost on a guest that is not listening yet.
    private func shutdown(_ session: CaseSession) async throws -> ActionOutcome {
        let name = session.domainName
        let lifecycle = try connection.domainLifecycleEvents()
        let (wakes, wake) = AsyncStream.makeStream(of: ShutdownWake.self)
        let watcher = Task {
            for await event in lifecycle where event.domainName == name && event.kind == .stopped {
                wake.yield(.stopped)
                return
            }
        }
        defer {
            watcher.cancel()
            wake.finish()
        }
        var calls = CallRecorder()
        var iterator = wakes.makeAsyncIterator()
        while true {
            let asked = try await Self.offPool { [self, calls] () -> (running: Bool, calls: CallRecorder, problem: String?) in
                var calls = calls
                do {
                    let domain = try lookup(name, &calls)
                    guard try domain.isActive else { return (false, calls, nil) }
                    do {
                        try calls.call("virDomainShutdown", [name]) { try domain.shutdown() }
                    } catch let error as LibvirtError where error.isOperationInvalid {
                        // Refused as "not running": it stopped between the two calls.
                        let running = try domain.isActive
                        return (running, calls, running ? error.message : nil)
                    }
                    return (true, calls, nil)
                } catch let error as LibvirtError {
                    return (false, calls, error.message)
                }
            }
            calls = asked.calls
            if let problem = asked.problem { return .failure(problem, calls.evidence) }
            guard asked.running else { break }
            let timer = OneShotTimer(after: guestRequestRepeat) { wake.yield(.askAgain) }
            guard let next = await iterator.next() else {
                timer.cancel()
                throw CancellationError()
            }
            timer.cancel()
            if next == .stopped { break }
        }
        return try await Self.offPool { [self, calls] in
            var calls = calls
            do {
                if let domain = try connection.domain(named: name) { try undefineIfPersistent(domain, &calls) }
                try removeOwnNetwork(ofDomain: name, &calls)
                session.forget(.domain(name: name))
                return .success(calls.evidence)
            } catch let error as LibvirtError {
                return .failure(error.message, calls.evidence)
            }
        }
    }

    private enum ShutdownWake: Sendable { case stopped, askAgain }

    /// Runs `command` in the guest's shell through libvirt's console stream.
    private func guestExec(_ command: String, _ session: CaseSession) async throws -> ActionOutcome {
        let found = try await findDomain(session.domainName)
        guard let domain = found.domain else { return .failure(found.problem ?? "no domain", found.calls.evidence) }
        return try await LibvirtGuestConsole(domain: domain, closings: consoleClosings).exec(command).actionOutcome(before: found.calls.evidence)
    }

    /// `ping: guest` from the hypervisor's host, `ping: host` from inside the guest, to the host file's addresses.
    private func ping(_ target: PingDirection, _ session: CaseSession) async throws -> ActionOutcome {
        switch target {
        case .guest:
            guard let address = session.host.guestAddress else {
                return .failure("the host file names no guest-address to ping", [])
            }
            guard let shell = hostShell else { return .failure("no shell on the hypervisor's host to ping from", []) }
            let result = try await shell.run(["ping", "-c", "3", "-W", "2", address], timeout: .seconds(20))
            return result.succeeded
                ? .success([result.evidence])
                : .failure("no reply from the guest at \(address): \((result.stdout + result.stderr).suffix(200))", [result.evidence])
        case .host:
            guard let address = session.host.hostAddress else {
                return .failure("the host file names no host-address to ping", [])
            }
            let found = try await findDomain(session.domainName)
            guard let domain = found.domain else { return .failure(found.problem ?? "no domain", found.calls.evidence) }
            let outcome = try await LibvirtGuestConsole(domain: domain, closings: consoleClosings).exec("ping -c 3 -W 2 \(address)")
            let evidence = found.calls.evidence + outcome.evidence
            guard outcome.reached else { return .failure(outcome.problem ?? "no answer from the guest's console", evidence) }
            return outcome.status == 0
                ? .success(evidence) : .failure("the guest got no reply from \(address): \(outcome.output.suffix(200))", evidence)
        }
    }

    /// Detaches the interface the latest network-attach added, and waits until the guest has let it go: QEMU
    /// asks the guest (ACPI) and libvirt returns after at most 5 s whether or not it did. A guest that was still
    /// booting never saw the request, so it is made again every `guestRequestRepeat` while the interface is
    /// there. The step's time limit ends the wait.
    private func networkDetach(_ session: CaseSession) async throws -> ActionOutcome {
        let name = session.domainName
        let detached = try await Self.offPool { [self] () -> (xml: String?, mac: String, calls: CallRecorder, problem: String?) in
            var calls = CallRecorder()
            guard let guest = guestWithNetwork(session) else { return (nil, "", calls, "the case has no guest") }
            do {
                let domain = try lookup(name, &calls)
                let attached = session.withState { $0.attachedNICs }
                guard attached > 0 else { return (nil, "", calls, "no interface was attached by this case") }
                let nic = guest.spec.nics + attached - 1
                let xml = DomainXMLRenderer.interfaceXML(guest, nic: nic, dialect: dialect)
                try calls.call("virDomainDetachDeviceFlags", [name, xml, "LIVE"]) { try domain.detachDevice(xml: xml) }
                session.withState { $0.attachedNICs -= 1 }
                return (xml, guest.macAddress(nic: nic), calls, nil)
            } catch let error as LibvirtError {
                return (nil, "", calls, error.message)
            }
        }
        guard let xml = detached.xml else { return .failure(detached.problem ?? "detach failed", detached.calls.evidence) }
        let mac = detached.mac
        var calls = detached.calls
        var delay = 0.1
        var requested = Date()
        while true {
            let seen = try await Self.offPool { [self, calls] () -> (present: Bool?, calls: CallRecorder, problem: String?) in
                var calls = calls
                do {
                    let domain = try lookup(name, &calls)
                    let xml = try calls.call("virDomainGetXMLDesc", [name]) { try domain.xml() }
                    return (xml.lowercased().contains("<mac address='\(mac.lowercased())'/>"), calls, nil)
                } catch let error as LibvirtError {
                    return (nil, calls, error.message)
                }
            }
            calls = seen.calls
            guard let present = seen.present else { return .failure(seen.problem ?? "", calls.evidence) }
            if !present { return .success(calls.evidence) }
            if Date().timeIntervalSince(requested) >= Double(guestRequestRepeat.milliseconds) / 1000 {
                calls = try await Self.offPool { [self, calls] in
                    var calls = calls
                    // A failure is in the evidence; whether the interface went is what the next look says.
                    if let domain = try? connection.domain(named: name) {
                        _ = try? calls.call("virDomainDetachDeviceFlags", [name, xml, "LIVE"]) { try domain.detachDevice(xml: xml) }
                    }
                    return calls
                }
                requested = Date()
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 1)
        }
    }

    /// Sets the live vCPU count on QEMU. QEMU refuses to unplug a vCPU until the guest's ACPI code has switched
    /// its CPU hot-plug interface to the modern one, which happens as the guest boots ("device unplug request for
    /// not supported device type"): that refusal is asked again each second, until the guest is far enough or the
    /// step's time limit ends it.
    private func setVcpus(_ count: Int, _ session: CaseSession) async throws -> ActionOutcome {
        let name = session.domainName
        var calls = CallRecorder()
        var delay = 0.25
        while true {
            let attempt = try await Self.offPool { [self, calls] () -> (calls: CallRecorder, problem: String?) in
                var calls = calls
                do {
                    let domain = try lookup(name, &calls)
                    try calls.call("virDomainSetVcpusFlags", [name, String(count), "LIVE"]) {
                        try domain.setVcpuCount(count, scope: .live)
                    }
                    return (calls, nil)
                } catch let error as LibvirtError {
                    return (calls, error.message)
                }
            }
            calls = attempt.calls
            guard let problem = attempt.problem else { return .success(calls.evidence) }
            guard Self.isGuestNotReadyForUnplug(problem) else { return .failure(problem, calls.evidence) }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 1)
        }
    }

    /// QEMU's refusal to unplug a CPU while the guest still uses the legacy ACPI CPU hot-plug interface.
    static func isGuestNotReadyForUnplug(_ message: String) -> Bool {
        message.contains("device unplug request for not supported device type")
    }

    /// The domain by name, off the cooperative pool, with the lookup as evidence.
    private func findDomain(_ name: String) async throws -> (domain: LibvirtDomain?, calls: CallRecorder, problem: String?) {
        try await Self.offPool { [self] in
            var calls = CallRecorder()
            do {
                return (try lookup(name, &calls), calls, nil)
            } catch let error as LibvirtError {
                return (nil, calls, error.message)
            }
        }
    }

    // MARK: The case's own network

    /// The isolated network this backend makes for a case's guest: on QEMU, when the host file names neither a
    /// libvirt network nor a bridge. Named after the guest (`xentest-<run>-<case>-net`), it has no `<forward>`, so
    /// nothing leaves the machine; it carries the host file's `host-address` (/24) when there is one, so the host
    /// and the guest can ping each other. Made before the guest is defined (its ledger entry is recorded first),
    /// removed with the guest: destroy, shutdown, teardown.
    func ownNetworkName(_ session: CaseSession) -> String? {
        guard makesOwnNetwork, session.host.libvirtNetwork == nil, session.host.bridge == nil, session.guest != nil else {
            return nil
        }
        return Self.ownNetworkName(ofDomain: session.domainName)
    }

    static func ownNetworkName(ofDomain name: String) -> String { name + "-net" }

    /// The case's guest, its interfaces on the case's own network when there is one.
    func guestWithNetwork(_ session: CaseSession) -> GuestInstance? {
        guard var guest = session.guest else { return nil }
        if let network = ownNetworkName(session) { guest.host.libvirtNetwork = network }
        return guest
    }

    private func makeOwnNetwork(_ session: CaseSession, _ calls: inout CallRecorder) throws {
        guard let name = ownNetworkName(session) else { return }
        if try connection.network(named: name) != nil { return }  // made by an earlier step of this case
        let xml = NetworkXMLRenderer.isolated(name: name, hostAddress: session.host.hostAddress)
        _ = try calls.call("virNetworkCreateXML", [xml]) { try connection.createNetwork(xml: xml) }
    }

    private func removeOwnNetwork(ofDomain domainName: String, _ calls: inout CallRecorder) throws {
        guard makesOwnNetwork else { return }
        let name = Self.ownNetworkName(ofDomain: domainName)
        guard let network = try connection.network(named: name) else { return }
        try Self.remove(network, &calls)
    }

    /// Stops a network and removes its definition; asked first, since a transient network is gone once stopped.
    private static func remove(_ network: LibvirtNetwork, _ calls: inout CallRecorder) throws {
        let name = network.name
        let persistent = try network.isPersistent
        if try network.isActive { try calls.call("virNetworkDestroy", [name]) { try network.destroy() } }
        if persistent { try calls.call("virNetworkUndefine", [name]) { try network.undefine() } }
    }

    /// Waits on lifecycle events (not polling) until the guest reaches `wanted`; cancelling the task (the
    /// runner's deadline, Ctrl-C) ends the wait and the event registration with it.
    private func waitForState(_ wanted: GuestState, name: String) async throws -> ActionOutcome {
        var calls = CallRecorder()
        let events = try calls.call("virConnectDomainEventRegisterAny", ["LIFECYCLE"]) { try connection.domainLifecycleEvents() }
        func observe() async throws -> GuestState {
            let (state, recorded) = try await Self.offPool { [self, calls] in
                var calls = calls
                let state = try currentState(name, &calls)
                return (state, calls)
            }
            calls = recorded
            return state
        }
        var seen = try await observe()
        if seen == wanted { return .success(calls.evidence, observation: .state(seen)) }
        for await event in events where event.domainName == name {
            seen = try await observe()
            if seen == wanted { return .success(calls.evidence, observation: .state(seen)) }
        }
        if Task.isCancelled { throw CancellationError() }
        return .failure("the guest did not become \(wanted.rawValue) (last seen \(seen.rawValue))", calls.evidence)
    }

    /// Undoes `entry` on a live connection: one lost since (libvirtd restarted) is opened again first, waiting for
    /// the daemon within the teardown's time limit.
    public func undo(_ entry: LedgerEntry, in session: CaseSession) async throws -> [Evidence] {
        let deadline = TaskDeadline.current
        var evidence = try await Self.offPool { [self] in
            var calls = CallRecorder()
            try liveConnection(&calls, deadline: deadline)
            switch entry {
            case .domain(let name):
                if let domain = try calls.call("virDomainLookupByName", [name], { try connection.domain(named: name) }) {
                    try destroyIfActive(domain, &calls)
                    try undefineIfPersistent(domain, &calls)
                }
                // Also when the guest never got defined: its network may have been made just before.
                try removeOwnNetwork(ofDomain: name, &calls)
            case .assignablePCIDevice(let address):
                let nodeName = address.libvirtNodeDeviceName
                if let node = try connection.nodeDevice(named: nodeName) {
                    try calls.call("virNodeDeviceReAttach", [nodeName]) { try node.reattach() }
                }
            case .file(let path):
                try? FileManager.default.removeItem(atPath: path)
            }
            return calls.evidence
        }
        if case .assignablePCIDevice(let address) = entry {
            evidence += try await giveBackFromPciback(address, after: evidence)
        }
        return evidence
    }

    /// libvirt's log of the guest (libxl's on Xen, QEMU's command line and messages on QEMU) and, on Xen, its device
    /// model's, read on the hypervisor's host.
    public func logs(for session: CaseSession) async -> [Evidence] {
        guard session.guest != nil, let shell = hostShell else { return [] }
        let name = session.domainName
        switch dialect {
        case .xen:
            return await logTails(["/var/log/libvirt/libxl/\(name).log", "/var/log/xen/qemu-dm-\(name).log"], through: shell)
        case .qemu: return await logTails(["/var/log/libvirt/qemu/\(name).log"], through: shell)
        case .test: return []
        }
    }

    /// libvirt resets every device before it passes it through (virHostdevPreparePCIDevices) and refuses one that has
    /// no FLR, PM or bus reset ("Unable to reset PCI device ...: no FLR, PM reset or bus reset available").
    public var resetsPCIDevicesBeforePassthrough: Bool { dialect != .test }

    /// Which of `addresses` have no reset method: the kernel lists every way it knows to reset a device (FLR, PM,
    /// bus, ACPI, device-specific; a superset of libvirt's) and offers `/sys/bus/pci/devices/BDF/reset` only when
    /// there is one. A device whose file cannot be checked is left out (not known to lack one).
    static func devicesWithoutReset(_ addresses: [PCIAddress], through shell: any CommandRunner) async throws
        -> [String]
    {
        var without: [String] = []
        for address in Set(addresses).sorted() {
            let path = "/sys/bus/pci/devices/\(address)"
            let device = try await shell.run(["test", "-e", path + "/config"], timeout: .seconds(10))
            let reset = try await shell.run(["test", "-e", path + "/reset"], timeout: .seconds(10))
            if device.status == 0 && reset.status == 1 { without.append(address.description) }
        }
        return without
    }

    /// The stub drivers a device waits on while it is assignable (QEMU's vfio-pci, Xen's pciback).
    static let stubDrivers: Set<String> = ["vfio-pci", "pciback", "xen-pciback", "pci-stub"]

    /// The driver `node` is bound to now ("" for none), from libvirt's XML of it.
    private func boundDriver(_ node: LibvirtNodeDevice, _ calls: inout CallRecorder) throws -> String {
        let xml = try calls.call("virNodeDeviceGetXMLDesc", [node.name]) { try node.xml() }
        return Self.values(of: "name", in: Self.section("driver", of: xml)).first ?? ""
    }

    /// Makes sure a device the run made assignable is back with the host after `virNodeDeviceReAttach`. libvirt's
    /// libxl driver binds it to pciback through driver_override, which makes pciback add a slot for it, and gives it
    /// back without removing that slot, so the reprobe hands it to pciback again (seen with libvirt 9.0 on Xen
    /// 4.17.7). Then, through dom0's shell, what `xl pci-assignable-remove -r` does: remove the slot, unbind, reprobe.
    /// Throws when the device is still on a stub driver: teardown reports it, never leaves it silently.
    private func giveBackFromPciback(_ address: PCIAddress, after evidence: [Evidence]) async throws -> [Evidence] {
        let nodeName = address.libvirtNodeDeviceName
        let (driver, checked) = try await Self.offPool { [self] () throws -> (String, [Evidence]) in
            var calls = CallRecorder()
            guard let node = try connection.nodeDevice(named: nodeName) else { return ("", calls.evidence) }
            return (try boundDriver(node, &calls), calls.evidence)
        }
        guard Self.stubDrivers.contains(driver) else { return checked }
        guard dialect == .xen, driver == "pciback", let shell = hostShell else {
            throw BackendFailure(
                "\(address) is still bound to \(driver) after virNodeDeviceReAttach; give it back to its driver by hand",
                evidence: evidence + checked
            )
        }
        var results = checked
        for file in ["drivers/pciback/remove_slot", "drivers/pciback/unbind", "drivers_probe"] {
            let result = try await shell.run(["tee", "/sys/bus/pci/" + file], timeout: .seconds(10), input: address.description)
            results.append(result.evidence)
        }
        let link = try await shell.run(["readlink", "/sys/bus/pci/devices/\(address)/driver"], timeout: .seconds(10))
        results.append(link.evidence)
        let now = link.stdout.trimmed.split(separator: "/").last.map(String.init) ?? ""
        if Self.stubDrivers.contains(now) || now.isEmpty {
            throw BackendFailure(
                "\(address) is still bound to \(now.isEmpty ? "no driver" : now) after virNodeDeviceReAttach and "
                    + "pciback's remove_slot; give it back to its driver by hand",
                evidence: evidence + results
            )
        }
        return results
    }

    public func leftovers() async throws -> [String] {
        try await Self.offPool { [self] in
            var calls = CallRecorder()
            let connection = try liveConnection(&calls, deadline: nil)
            let domains = try connection.domains().map(\.name)
            let networks = try connection.networks().map(\.name)
            return (domains + networks).filter { $0.hasPrefix("xentest-") }.sorted()
        }
    }

    public func removeLeftover(_ name: String) async throws -> [Evidence] {
        precondition(name.hasPrefix("xentest-"), "only xentest's own objects are ever removed")
        return try await Self.offPool { [self] in
            var calls = CallRecorder()
            let connection = try liveConnection(&calls, deadline: nil)
            if let domain = try connection.domain(named: name) {
                try destroyIfActive(domain, &calls)
                try undefineIfPersistent(domain, &calls)
            } else if let network = try connection.network(named: name) {
                try Self.remove(network, &calls)
            }
            return calls.evidence
        }
    }

    // MARK: Helpers

    /// Runs blocking libvirt calls on a Dispatch thread, keeping Swift's small cooperative pool free.
    ///
    /// The step's `StepActivity` goes along, so a call that never returns is still named in the step's evidence.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let activity = StepActivity.current
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                StepActivity.$current.withValue(activity) { continuation.resume(with: Result { try body() }) }
            }
        }
    }

    /// The text of every `<tag>...</tag>` in `xml`.
    static func values(of tag: String, in xml: String) -> [String] {
        var found: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(tag)>"), let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) {
            found.append(String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return found
    }

    /// The first `<tag ...>...</tag>` element of `xml`, or "".
    static func section(_ tag: String, of xml: String) -> String {
        guard let open = xml.range(of: "<\(tag)"), let close = xml.range(of: "</\(tag)>", range: open.upperBound..<xml.endIndex)
        else { return "" }
        return String(xml[open.lowerBound..<close.upperBound])
    }

    /// PCI addresses of the `<hostdev>` elements in a domain's XML.
    static func hostdevAddresses(in xml: String) -> [PCIAddress] {
        var addresses: [PCIAddress] = []
        for hostdev in xml.components(separatedBy: "<hostdev").dropFirst() {
            guard let end = hostdev.range(of: "</hostdev>") else { continue }
            let body = hostdev[..<end.lowerBound]
            func attribute(_ name: String) -> Int? {
                guard let start = body.range(of: "\(name)='0x") else { return nil }
                let digits = body[start.upperBound...].prefix { $0.isHexDigit }
                return Int(digits, radix: 16)
            }
            if let domain = attribute("domain"), let bus = attribute("bus"), let slot = attribute("slot"),
                let function = attribute("function")
            {
                addresses.append(PCIAddress(domain: domain, bus: bus, device: slot, function: function))
            }
        }
        return addresses
    }
}

/// Records each libvirt call as evidence: what was called, with what, how it ended and how long it took.
///
/// Each call is also told to the step's `StepActivity` (when there is one), where a call that hangs shows.
struct CallRecorder {
    var evidence: [Evidence] = []

    mutating func call<T>(_ name: String, _ arguments: [String], _ body: () throws -> T) throws -> T {
        let start = DispatchTime.now()
        func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }
        let activity = StepActivity.current
        let token = activity?.started([name] + arguments, kind: .api)
        func record(_ entry: Evidence) {
            evidence.append(entry)
            if let activity, let token { activity.finished(token, entry) }
        }
        do {
            let value = try body()
            record(Evidence(kind: "api", call: name, arguments: arguments, status: 0, durationSeconds: seconds()))
            return value
        } catch let error as LibvirtError {
            record(Evidence(kind: "api", call: name, arguments: arguments, status: -1, error: error.message, durationSeconds: seconds()))
            throw error
        }
    }
}
