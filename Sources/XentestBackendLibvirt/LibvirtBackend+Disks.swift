import Foundation
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

/// Disks through libvirt: images made on the hypervisor's host through its shell (in `hostFilesDirectory`, on the
/// case's ledger first), hot-plugged with `virDomainAttachDeviceFlags`, counted in the domain's XML and, with the
/// test guest, in the guest's own `/sys/block`.
extension LibvirtBackend {
    /// Makes disk `index`'s image for the case's guest: the command's result, its evidence in `calls`.
    func makeImage(_ disk: DiskSpec, index: Int, _ session: CaseSession, _ calls: CallLog) async throws
        -> CommandResult?
    { try await make(disk, session, calls) { $0.diskImagePath(index, disk.format, in: $1) } }

    /// Makes CD-ROM medium `index`'s image for the case's guest, like `makeImage`.
    func makeMedium(_ size: MemorySize, index: Int, _ session: CaseSession, _ calls: CallLog) async throws
        -> CommandResult?
    { try await make(CDROMMedium.image(size), session, calls) { $0.cdMediumPath(index, in: $1) } }

    /// Makes `disk`'s image at `path(guest, folder)` in `hostFilesDirectory`, made first; nil without a shell there.
    private func make(
        _ disk: DiskSpec,
        _ session: CaseSession,
        _ calls: CallLog,
        path: (GuestInstance, String) -> String
    ) async throws -> CommandResult? {
        guard let guest = session.guest, let hostShell else { return nil }
        let made = try await hostShell.run(["mkdir", "-p", hostFilesDirectory], timeout: .seconds(30))
        calls.append([made.evidence])
        guard made.succeeded else { return made }
        let image = try await DiskImages.make(
            disk,
            at: path(guest, hostFilesDirectory),
            in: session,
            through: hostShell
        )
        calls.append([image.evidence])
        return image
    }

    /// Why an image could not be made, in the shell's words; nil for one that was.
    static func imageProblem(_ result: CommandResult?) -> String? {
        guard let result else { return "xentest has no shell on the hypervisor's host to make disk images with" }
        guard !result.succeeded else { return nil }
        let said = (result.stderr.isEmpty ? result.stdout : result.stderr)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return "\(result.argv.joined(separator: " ")) failed (exit \(result.status)): \(said)"
    }

    /// Makes an image and attaches it as the guest's next disk.
    func blockAttach(_ disk: DiskSpec, _ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        guard let guest = session.guest else { return .failure("the case has no guest", []) }
        let name = session.domainName
        let index = session.diskCount
        if let problem = Self.imageProblem(try await makeImage(disk, index: index, session, calls)) {
            return .failure(problem, calls.evidence)
        }
        let path = guest.diskImagePath(index, disk.format, in: hostFilesDirectory)
        let xml = DomainXMLRenderer.diskXML(disk, index: index, path: path, dialect: driver)
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            try calls.call("virDomainAttachDeviceFlags", [name, xml, "LIVE"]) { try domain.attachDevice(xml: xml) }
            session.withState { $0.attachedDisks.append(disk) }
            return .success(calls.evidence)
        }
    }

    /// Detaches the disk the latest block-attach added, and waits until the guest has let it go.
    func blockDetach(_ session: CaseSession) async throws -> ActionOutcome {
        guard let guest = session.guest else { return .failure("the case has no guest", []) }
        let name = session.domainName
        let calls = CallLog()
        guard let disk = session.withState({ $0.attachedDisks.last }) else {
            return .failure("no disk was attached by this case", [])
        }
        let index = session.diskCount - 1
        let path = guest.diskImagePath(index, disk.format, in: hostFilesDirectory)
        let xml = DomainXMLRenderer.diskXML(disk, index: index, path: path, dialect: driver)
        let target = DomainXMLRenderer.diskDeviceName(index, dialect: driver)
        let detached = try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            try calls.call("virDomainDetachDeviceFlags", [name, xml, "LIVE"]) { try domain.detachDevice(xml: xml) }
            session.withState { _ = $0.attachedDisks.popLast() }
            return .success(calls.evidence)
        }
        guard detached.succeeded else { return detached }
        return try await awaitDetached(name, xml: xml, calls) { $0.diskTargets.contains(target) }
    }

    /// The disks in the domain's XML and, with the test guest, those it sees.
    func blockList(_ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        let counted = try await attempt { [self] in
            let domain = try lookup(name, calls)
            let xml = try calls.call("virDomainGetXMLDesc", [name]) { try domain.xml() }
            return LibvirtXML(xml).diskTargets.count
        }
        let count: Int
        switch counted {
        case .failure(let error): return .failure(error.message, calls.evidence)
        case .success(let listed): count = listed
        }
        return try await DiskImages.listing(
            listed: count,
            guestAnswers: session.guestAnswers,
            console: console(session),
            calls: calls.evidence
        )
    }

    /// `cd-insert` (a new medium's image made, then the drive's `<source>` changed) or `cd-eject` (the drive without
    /// one), through `virDomainUpdateDeviceFlags`; with the test guest, the guest must read the change.
    func changeMedium(_ action: Action, _ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        guard let guest = session.guest else { return .failure("the case has no guest", []) }
        let name = session.domainName
        var medium: (size: MemorySize, path: String)?
        if case .cdInsert(let size) = action {
            let index = session.withState { $0.insertedMedia } + 1
            if let problem = Self.imageProblem(try await makeMedium(size, index: index, session, calls)) {
                return .failure(problem, calls.evidence)
            }
            medium = (size, guest.cdMediumPath(index, in: hostFilesDirectory))
        }
        let xml = DomainXMLRenderer.cdromXML(medium: medium?.path)
        let inserted = medium != nil
        let changed = try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            try calls.call("virDomainUpdateDeviceFlags", [name, xml, "LIVE"]) { try domain.updateDevice(xml: xml) }
            if inserted { session.withState { $0.insertedMedia += 1 } }
            return .success(calls.evidence)
        }
        guard changed.succeeded else { return changed }
        return try await CDROMMedium.confirm(
            medium?.size,
            guestAnswers: session.guestAnswers,
            console: console(session),
            calls: calls.evidence
        )
    }
}
