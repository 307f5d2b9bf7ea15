import Foundation
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

extension LibvirtBackend {
    /// Creates a copy of the tester's own guest from its libvirt domain (`from-host: ROLE`): reads the domain's
    /// inactive XML, makes the copy (`LibvirtOwnGuestCopy`), then each overlay (and the UEFI variables' copy) through
    /// the host's shell, every one on the ledger before it exists, and defines and starts the copy. The original
    /// domain is only looked up and read: never started, changed or undefined. A disk that cannot be overlaid skips
    /// the case before anything is made; an image QEMU's user may not read skips it when the copy cannot start.
    func createCopy(of role: String, paused: Bool, _ session: CaseSession, _ calls: CallLog) async throws
        -> ActionOutcome
    {
        guard let guest = session.guest, case .libvirtDomain(let template)? = session.host.guests[role]?.source else {
            return .failure("the host file names no libvirt domain for its guest '\(role)'", [])
        }
        let read = try await attempt { [self] in
            let domain = try lookup(template, calls)
            return try calls.call("virDomainGetXMLDesc", [template, "INACTIVE"]) { try domain.xml(inactive: true) }
        }
        let original: String
        switch read {
        case .failure(let error):
            return .failure(
                "cannot read the libvirt domain '\(template)', the host file's guest '\(role)': \(error.message)",
                calls.evidence
            )
        case .success(let xml): original = xml
        }
        let copy: LibvirtOwnGuestCopy
        do {
            copy = try LibvirtOwnGuestCopy.make(original, of: template, for: guest, filesIn: hostFilesDirectory)
        } catch { throw CaseCannotRun(error.reason, evidence: calls.evidence) }
        try await makeFiles(of: copy, role: role, session, calls)

        let name = session.domainName
        let copied = Evidence(
            kind: "file",
            call: "\(name).xml",
            arguments: ["a copy of the libvirt domain \(template)"],
            status: 0,
            output: copy.xml,
            durationSeconds: 0
        )
        let started = try await attempt { [self] in
            session.record(.domain(name: name))
            let domain = try calls.call("virDomainDefineXML", [copy.xml]) { try connection.defineDomain(xml: copy.xml) }
            if paused {
                try calls.call("virDomainCreateWithFlags", [name, "START_PAUSED"]) { try domain.createPaused() }
            } else {
                try calls.call("virDomainCreate", [name]) { try domain.create() }
            }
        }
        guard case .failure(let error) = started else { return .success(calls.evidence + [copied]) }
        if let image = Self.unreadableImage(error.message, of: copy) {
            throw CaseCannotRun(
                "QEMU cannot read the image \(image) of the host file's guest '\(role)' (Permission denied), and xentest "
                    + "does not let libvirt give it to QEMU's user (libvirt would not give it back): make it readable "
                    + "by that user while the domain '\(template)' is off, for example with chmod o+r",
                evidence: calls.evidence + [copied]
            )
        }
        return .failure(error.message, calls.evidence + [copied])
    }

    /// The original image QEMU could not open for lack of permission, as libvirt reports it, if that is why the copy
    /// did not start.
    static func unreadableImage(_ message: String, of copy: LibvirtOwnGuestCopy) -> String? {
        guard message.contains("Permission denied") else { return nil }
        return copy.overlays.map(\.original).first { message.contains("Could not open '\($0)'") }
    }

    /// Makes the copy's overlays and UEFI variables on the hypervisor's host, each on the ledger first; one that
    /// cannot be made (an image missing, or locked by the running original) skips the case.
    private func makeFiles(of copy: LibvirtOwnGuestCopy, role: String, _ session: CaseSession, _ calls: CallLog)
        async throws
    {
        guard !copy.files.isEmpty else { return }
        guard let hostShell else {
            throw CaseCannotRun(
                "the host file's guest '\(role)' has disks to overlay, and xentest has no shell on "
                    + "\(connection.requestedURI) to make the overlays with: give it one with --host ssh://root@HOST",
                evidence: calls.evidence
            )
        }
        let folder = try await hostShell.run(["mkdir", "-p", hostFilesDirectory], timeout: .seconds(30))
        calls.append([folder.evidence])
        guard folder.succeeded else {
            throw BackendFailure("cannot make \(hostFilesDirectory): \(folder.stderr)", evidence: calls.evidence)
        }
        for file in copy.files {
            session.record(.file(path: file.path))
            let made = try await hostShell.run(file.makeCommand, timeout: .seconds(60))
            calls.append([made.evidence])
            guard made.succeeded else {
                let what = file.isOverlay ? "image" : "UEFI variables file"
                throw CaseCannotRun(
                    "the \(what) \(file.original) of the host file's guest '\(role)' cannot be "
                        + (file.isOverlay ? "overlaid" : "copied")
                        + " (it is only ever read): \(made.stderr.trimmingCharacters(in: .whitespacesAndNewlines))",
                    evidence: calls.evidence
                )
            }
        }
    }
}
