import Foundation
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

extension LibvirtBackend {
    /// Defines and starts the case's guest (paused if asked), on the case's own network when it gets one; a copy of
    /// the tester's own domain for a guest `from-host` (`createCopy`).
    func create(paused: Bool, _ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        guard let guest = guestWithNetwork(session) else { return .failure("the case has no guest", []) }
        if let role = guest.spec.fromHost { return try await createCopy(of: role, paused: paused, session, calls) }
        let name = session.domainName
        for (index, disk) in guest.spec.disks.enumerated() {
            if let problem = Self.imageProblem(try await makeImage(disk, index: index, session, calls)) {
                return .failure(problem, calls.evidence)
            }
        }
        if let size = guest.spec.cdrom,
            let problem = Self.imageProblem(try await makeMedium(size, index: 0, session, calls))
        {
            return .failure(problem, calls.evidence)
        }
        return try await outcome(calls) { [self] in
            let xml = DomainXMLRenderer.render(guest, dialect: driver, imageDirectory: hostFilesDirectory)
            // Recorded before the network too: the case's own network is torn down with its guest.
            session.record(.domain(name: name))
            if guest.spec.nics > 0 { try makeOwnNetwork(session, calls) }
            let domain = try calls.call("virDomainDefineXML", [xml]) { try connection.defineDomain(xml: xml) }
            if paused {
                try calls.call("virDomainCreateWithFlags", [name, "START_PAUSED"]) { try domain.createPaused() }
            } else {
                try calls.call("virDomainCreate", [name]) { try domain.create() }
            }
            return .success(calls.evidence)
        }
    }

    /// Destroys the guest and removes its definition and the case's own network.
    func destroy(_ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            try calls.call("virDomainDestroy", [name]) { try domain.destroy() }
            try undefineIfPersistent(domain, calls)
            try removeOwnNetwork(of: session, calls)
            session.forget(.domain(name: name))
            return .success(calls.evidence)
        }
    }

    /// `pause` (virDomainSuspend) or `unpause` (virDomainResume).
    func pauseOrResume(_ action: Action, _ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            if case .pause = action {
                try calls.call("virDomainSuspend", [name]) { try domain.suspend() }
            } else {
                try calls.call("virDomainResume", [name]) { try domain.resume() }
            }
            return .success(calls.evidence)
        }
    }

    /// Destroys a running domain; one that stopped meanwhile is no failure. libvirtd, restarted, stops a guest it
    /// cannot reconnect to (seen with libvirtd 9.0 where its cgroups are not as it expects) while teardown looks.
    func destroyIfActive(_ domain: LibvirtDomain, _ calls: CallLog) throws {
        guard try domain.isActive else { return }
        do { try calls.call("virDomainDestroy", [domain.name]) { try domain.destroy() } } catch let error
            as LibvirtError where error.isOperationInvalid
        { if try domain.isActive { throw error } }
    }

    func undefineIfPersistent(_ domain: LibvirtDomain, _ calls: CallLog) throws {
        guard try domain.isPersistent else { return }
        try calls.call("virDomainUndefineFlags", [domain.name]) { try domain.undefine() }
    }

    func currentState(_ name: String, _ calls: CallLog) throws -> GuestState {
        guard let domain = try calls.call("virDomainLookupByName", [name], { try connection.domain(named: name) })
        else { return .gone }
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
    func shutdown(_ session: CaseSession) async throws -> ActionOutcome {
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
        let calls = CallLog()
        var iterator = wakes.makeAsyncIterator()
        asking: while true {
            let asked = try await attempt { [self] () throws -> Bool in
                let domain = try lookup(name, calls)
                guard try domain.isActive else { return false }
                do { try calls.call("virDomainShutdown", [name]) { try domain.shutdown() } } catch let error
                    as LibvirtError where error.isOperationInvalid
                {
                    // Refused as "not running": it stopped between the two calls.
                    if try domain.isActive { throw error }
                    return false
                }
                return true
            }
            switch asked {
            case .failure(let error): return .failure(error.message, calls.evidence)
            case .success(false): break asking
            case .success(true): break
            }
            let timer = OneShotTimer(after: guestRequestRepeat) { wake.yield(.askAgain) }
            guard let next = await iterator.next() else {
                timer.cancel()
                throw CancellationError()
            }
            timer.cancel()
            if next == .stopped { break }
        }
        return try await outcome(calls) { [self] in
            if let domain = try connection.domain(named: name) { try undefineIfPersistent(domain, calls) }
            try removeOwnNetwork(of: session, calls)
            session.forget(.domain(name: name))
            return .success(calls.evidence)
        }
    }

    private enum ShutdownWake: Sendable { case stopped, askAgain }

    /// Waits on lifecycle events (not polling) until the guest reaches `wanted`; cancelling the task (the
    /// runner's deadline, Ctrl-C) ends the wait and the event registration with it.
    func waitForState(_ wanted: GuestState, name: String) async throws -> ActionOutcome {
        let calls = CallLog()
        let events = try calls.call("virConnectDomainEventRegisterAny", ["LIFECYCLE"]) {
            try connection.domainLifecycleEvents()
        }
        func observe() async throws -> GuestState { try await Self.offPool { [self] in try currentState(name, calls) } }
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
            let calls = CallLog()
            try liveConnection(calls, deadline: deadline)
            switch entry {
            case .domain(let name):
                if let domain = try calls.call("virDomainLookupByName", [name], { try connection.domain(named: name) })
                {
                    try destroyIfActive(domain, calls)
                    try undefineIfPersistent(domain, calls)
                }
                // Also when the guest never got defined: its network may have been made just before.
                try removeOwnNetwork(of: session, calls)
            case .assignablePCIDevice(let address):
                let nodeName = address.libvirtNodeDeviceName
                if let node = try connection.nodeDevice(named: nodeName) {
                    try calls.call("virNodeDeviceReAttach", [nodeName]) { try node.reattach() }
                }
            case .file(let path):
                // On another host, through its shell (below).
                if driver == .test || hostShell == nil { try? FileManager.default.removeItem(atPath: path) }
            }
            return calls.evidence
        }
        if case .file(let path) = entry, driver != .test, let hostShell {
            let removed = try await hostShell.run(["rm", "-f", path], timeout: .seconds(30))
            evidence.append(removed.evidence)
            if !removed.succeeded {
                throw BackendFailure("cannot remove \(path): \(removed.stderr)", evidence: evidence)
            }
        }
        if case .assignablePCIDevice(let address) = entry {
            evidence += try await giveBackFromPciback(address, after: evidence)
        }
        return evidence
    }

    /// The `xentest-*` domains (running or only defined) and networks on the connection, sorted (a lost connection is
    /// opened again first), then the run's files left on the hypervisor's host.
    public func leftovers() async throws -> [String] {
        let objects = try await Self.offPool { [self] in
            let calls = CallLog()
            let connection = try liveConnection(calls, deadline: nil)
            let domains = try connection.domains().map(\.name)
            let networks = try connection.networks().map(\.name)
            return (domains + networks).filter { $0.hasPrefix("xentest-") }.sorted()
        }
        return objects + (try await leftoverFiles())
    }

    /// The `xentest-*` files in the folder of the run's files on the hypervisor's host, read through its shell; none
    /// without one, and none on the test driver, whose folder is this machine's temporary one, shared by every run.
    func leftoverFiles() async throws -> [String] {
        guard driver != .test, let hostShell else { return [] }
        return try await LeftoverFiles.list(in: hostFilesDirectory, through: hostShell)
    }

    /// Destroys and undefines the domain `name`, or else stops and undefines the network `name`, or removes the file
    /// at the path `name` through the host's shell; returns the calls made.
    public func removeLeftover(_ name: String) async throws -> [Evidence] {
        if name.hasPrefix("/"), let hostShell {
            return try await LeftoverFiles.remove(name, in: hostFilesDirectory, through: hostShell)
        }
        precondition(name.hasPrefix("xentest-"), "only xentest's own objects are ever removed")
        return try await Self.offPool { [self] in
            let calls = CallLog()
            let connection = try liveConnection(calls, deadline: nil)
            if let domain = try connection.domain(named: name) {
                try destroyIfActive(domain, calls)
                try undefineIfPersistent(domain, calls)
            } else if let network = try connection.network(named: name) {
                try Self.remove(network, calls)
            }
            return calls.evidence
        }
    }
}
