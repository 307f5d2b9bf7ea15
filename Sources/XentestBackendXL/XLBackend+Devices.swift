import Foundation
import XentestPlan
import XentestRun
import XentestSupport
import XentestXLParsing

extension XLBackend {
    /// The guest's online vCPUs and their hard affinity, from `xl vcpu-list NAME`.
    func vcpuList(_ step: inout XLStep) async throws -> ActionOutcome {
        let name = step.session.domainName
        let result = try await step.xl(.vcpuList)
        guard result.succeeded else { return step.failure(result) }
        let rows = try XLParse.vcpuList(result.stdout).filter { $0.name == name }
        let affinity = Dictionary(rows.map { ($0.vcpu, $0.hardAffinity) }, uniquingKeysWith: { first, _ in first })
        return .success(step.calls, observation: .vcpus(online: rows.filter(\.isOnline).count, affinity: affinity))
    }

    /// The PCI devices the guest has, or the host offers for passthrough; making one assignable and giving it back.
    /// Teardown gives back only what was not assignable before the run: the device returns to its state.
    func pci(_ action: Action, _ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        func address(_ role: String) -> PCIAddress? { session.host.pciDevices[role]?.address }
        switch action {
        case .pciList:
            let result = try await step.xl(action)
            guard result.succeeded else { return step.failure(result) }
            return .success(step.calls, observation: .pciDevices(try XLParse.pciList(result.stdout).map(\.address)))
        case .pciAssignableList:
            let result = try await step.xl(action)
            guard result.succeeded else { return step.failure(result) }
            return .success(step.calls, observation: .pciDevices(try XLParse.pciAssignableList(result.stdout)))
        case .pciAssignableAdd(let role):
            guard let device = address(role) else { return .failure("no PCI device for role '\(role)'", []) }
            let before = try await step.run(["xl", "pci-assignable-list"])
            let wasAssignable =
                before.succeeded && ((try? XLParse.pciAssignableList(before.stdout))?.contains(device) ?? false)
            if !wasAssignable { session.record(.assignablePCIDevice(device)) }
            return try await step.xlSucceeds(action)
        case .pciAssignableRemove(let role):
            let result = try await step.xl(action)
            guard result.succeeded else { return step.failure(result) }
            if let device = address(role) { session.forget(.assignablePCIDevice(device)) }
            return .success(step.calls)
        default: preconditionFailure("\(action.name) is not a PCI query or assignment")
        }
    }

    /// The guest's interfaces, and attaching or detaching one (detach takes the last attached).
    func network(_ action: Action, _ step: inout XLStep) async throws -> ActionOutcome {
        let result = try await step.xl(action)
        guard result.succeeded else { return step.failure(result) }
        switch action {
        case .networkList:
            return .success(step.calls, observation: .interfaces(try XLParse.networkList(result.stdout).count))
        case .networkAttach: step.session.withState { $0.attachedNICs += 1 }
        case .networkDetach: step.session.withState { $0.attachedNICs -= 1 }
        default: preconditionFailure("\(action.name) is not a network action")
        }
        return .success(step.calls)
    }

    /// The guest's disks, and attaching a new one (its image made first, beside the guest's xl.cfg) or detaching the
    /// last attached. `xl block-list` of a guest xl does not know exits 0 with its complaint on stderr: a failure.
    func disks(_ action: Action, _ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        switch action {
        case .blockAttach(let disk):
            guard let guest = session.guest else { return .failure("the case has no guest", []) }
            let index = session.diskCount
            let made = try await step.make(disk, at: guest.diskImagePath(index, disk.format, in: configDirectory))
            guard made.succeeded else { return step.failure(made) }
            let attached = try await step.xl(action)
            guard attached.succeeded else { return step.failure(attached) }
            session.withState { $0.attachedDisks.append(disk) }
            return .success(step.calls)
        case .blockDetach:
            let detached = try await step.xl(action)
            guard detached.succeeded else { return step.failure(detached) }
            session.withState { _ = $0.attachedDisks.popLast() }
            return .success(step.calls)
        case .blockList:
            let result = try await step.xl(action)
            guard result.succeeded, !result.stderr.contains("invalid domain identifier") else {
                return step.failure(result)
            }
            return try await DiskImages.listing(
                listed: try XLParse.blockList(result.stdout).count,
                guestAnswers: session.guestAnswers,
                console: console(session),
                calls: step.calls
            )
        default: preconditionFailure("\(action.name) is not a disk action")
        }
    }

    /// A new medium in the guest's CD-ROM drive (its image made first, beside the guest's xl.cfg), or the drive
    /// emptied; with the test guest, the guest must read the change.
    func cdrom(_ action: Action, _ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        var medium: MemorySize?
        if case .cdInsert(let size) = action {
            guard let guest = session.guest else { return .failure("the case has no guest", []) }
            let index = session.withState { $0.insertedMedia } + 1
            let made = try await step.make(CDROMMedium.image(size), at: guest.cdMediumPath(index, in: configDirectory))
            guard made.succeeded else { return step.failure(made) }
            medium = size
        }
        let changed = try await step.xl(action)
        guard changed.succeeded else { return step.failure(changed) }
        if case .cdInsert = action { session.withState { $0.insertedMedia += 1 } }
        return try await CDROMMedium.confirm(
            medium,
            guestAnswers: session.guestAnswers,
            console: console(session),
            calls: step.calls
        )
    }

    /// A xenstore key of the guest: `{domid}` in the path is its domain id, from `xl domid`.
    func xenstoreRead(_ pathTemplate: String, _ step: inout XLStep) async throws -> ActionOutcome {
        let domid = try await step.run(["xl", "domid", step.session.domainName])
        guard domid.succeeded else { return step.failure(domid) }
        let path = pathTemplate.replacingOccurrences(of: "{domid}", with: String(try XLParse.domid(domid.stdout)))
        let result = try await step.run(["xenstore-read", path])
        guard result.succeeded else { return step.failure(result) }
        return .success(step.calls, observation: .text(try XLParse.xenstoreRead(result.stdout)))
    }

    /// The guest's console from dom0: the serial port for HVM guests, the Xen console for PV and PVH; for a copy of
    /// the tester's own guest, whose type is its config's, the serial port when it has one.
    func console(_ session: CaseSession) -> any GuestConsole {
        let serial: Bool? = session.guest.map { $0.spec.fromHost == nil ? $0.spec.type == .hvm : nil } ?? false
        return XLGuestConsole(runner: runner, domainName: session.domainName, serial: serial)
    }
}
