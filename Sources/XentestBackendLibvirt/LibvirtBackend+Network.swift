import Foundation
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

extension LibvirtBackend {
    /// Detaches the interface the latest network-attach added, and waits until the guest has let it go
    /// (`detachAndAwait`).
    func networkDetach(_ session: CaseSession) async throws -> ActionOutcome {
        let name = session.domainName
        guard let guest = guestWithNetwork(session) else { return .failure("the case has no guest", []) }
        let calls = CallLog()
        let detached = try await attempt { [self] () throws -> (xml: String, mac: String)? in
            let domain = try lookup(name, calls)
            let attached = session.withState { $0.attachedNICs }
            guard attached > 0 else { return nil }
            let nic = guest.spec.nics + attached - 1
            let xml = DomainXMLRenderer.interfaceXML(guest, nic: nic, dialect: driver)
            try calls.call("virDomainDetachDeviceFlags", [name, xml, "LIVE"]) { try domain.detachDevice(xml: xml) }
            session.withState { $0.attachedNICs -= 1 }
            return (xml, guest.macAddress(nic: nic).lowercased())
        }
        switch detached {
        case .failure(let error): return .failure(error.message, calls.evidence)
        case .success(nil): return .failure("no interface was attached by this case", calls.evidence)
        case .success(let interface?):
            return try await awaitDetached(name, xml: interface.xml, calls) { $0.interfaceMACs.contains(interface.mac) }
        }
    }

    /// Waits until a device detached with `xml` has left the domain (`isPresent` no longer holds for its XML): QEMU
    /// asks the guest (ACPI) and libvirt returns after at most 5 s whether or not it did. A guest that was still
    /// booting never saw the request, so it is made again every `guestRequestRepeat` while the device is there.
    /// The step's time limit ends the wait.
    func awaitDetached(
        _ name: String,
        xml: String,
        _ calls: CallLog,
        isPresent: @escaping @Sendable (LibvirtXML) -> Bool
    ) async throws -> ActionOutcome {
        var delay = 0.1
        var requested = Date()
        while true {
            let present = try await attempt { [self] in
                let domain = try lookup(name, calls)
                let description = try calls.call("virDomainGetXMLDesc", [name]) { try domain.xml() }
                return isPresent(LibvirtXML(description))
            }
            switch present {
            case .failure(let error): return .failure(error.message, calls.evidence)
            case .success(false): return .success(calls.evidence)
            case .success(true): break
            }
            if Date().timeIntervalSince(requested) >= Double(guestRequestRepeat.milliseconds) / 1000 {
                try await Self.offPool { [self] in
                    // A failure is in the evidence; whether the device went is what the next look says.
                    if let domain = try? connection.domain(named: name) {
                        _ = try? calls.call("virDomainDetachDeviceFlags", [name, xml, "LIVE"]) {
                            try domain.detachDevice(xml: xml)
                        }
                    }
                }
                requested = Date()
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 1)
        }
    }

    /// Attaches one more interface, on the case's own network when it has one.
    func networkAttach(_ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        guard let guest = guestWithNetwork(session) else { return .failure("the case has no guest", []) }
        let name = session.domainName
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            let attached = session.withState { $0.attachedNICs }
            try makeOwnNetwork(session, calls)
            let xml = DomainXMLRenderer.interfaceXML(guest, nic: guest.spec.nics + attached, dialect: driver)
            try calls.call("virDomainAttachDeviceFlags", [name, xml, "LIVE"]) { try domain.attachDevice(xml: xml) }
            session.withState { $0.attachedNICs += 1 }
            return .success(calls.evidence)
        }
    }

    /// How many interfaces the guest has, from its XML.
    func networkList(_ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            let xml = try calls.call("virDomainGetXMLDesc", [name]) { try domain.xml() }
            return .success(calls.evidence, observation: .interfaces(LibvirtXML(xml).interfaceCount))
        }
    }

    // MARK: The case's own network

    /// The isolated network this backend makes for a case's guests: on QEMU, when the host file names neither a
    /// libvirt network nor a bridge. One per case, shared by its guests (so they can ping each other), named after
    /// its first guest (`xentest-<run>-<case>-net`), it has no `<forward>`, so nothing leaves the machine; it carries
    /// the host file's `host-address` (/24) when there is one, so the host and the guests can ping each other. Made
    /// before a guest is defined (its ledger entry is recorded first), removed with the case's last guest: destroy,
    /// shutdown, teardown.
    func ownNetworkName(_ session: CaseSession) -> String? {
        guard makesOwnNetwork, session.host.libvirtNetwork == nil, session.host.bridge == nil, session.guest != nil
        else { return nil }
        return Self.ownNetworkName(ofDomain: session.caseDomainName)
    }

    static func ownNetworkName(ofDomain name: String) -> String { name + "-net" }

    /// The case's guest, its interfaces on the case's own network when there is one.
    func guestWithNetwork(_ session: CaseSession) -> GuestInstance? {
        guard var guest = session.guest else { return nil }
        if let network = ownNetworkName(session) { guest.host.libvirtNetwork = network }
        return guest
    }

    func makeOwnNetwork(_ session: CaseSession, _ calls: CallLog) throws {
        guard let name = ownNetworkName(session) else { return }
        if try connection.network(named: name) != nil { return }  // made by an earlier step of this case
        let xml = NetworkXMLRenderer.isolated(name: name, hostAddress: session.host.hostAddress)
        _ = try calls.call("virNetworkCreateXML", [xml]) { try connection.createNetwork(xml: xml) }
    }

    /// Removes the case's network once none of its guests (the first, `xentest-<run>-<case>`, and the others,
    /// `xentest-<run>-<case>-<guest>`) is defined any more.
    func removeOwnNetwork(of session: CaseSession, _ calls: CallLog) throws {
        guard makesOwnNetwork else { return }
        let owner = session.caseDomainName
        guard let network = try connection.network(named: Self.ownNetworkName(ofDomain: owner)) else { return }
        let guests = Set(session.caseGuests.values.map(\.domainName))
        if try connection.domains().contains(where: { guests.contains($0.name) }) { return }
        try Self.remove(network, calls)
    }

    /// Stops a network and removes its definition; asked first, since a transient network is gone once stopped.
    static func remove(_ network: LibvirtNetwork, _ calls: CallLog) throws {
        let name = network.name
        let persistent = try network.isPersistent
        if try network.isActive { try calls.call("virNetworkDestroy", [name]) { try network.destroy() } }
        if persistent { try calls.call("virNetworkUndefine", [name]) { try network.undefine() } }
    }
}
