import Foundation
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

extension LibvirtBackend {
    /// Why libvirt's libxl driver will refuse `vcpu-set count`: more live vCPUs than `limit` (the host's CPUs), for a
    /// guest whose maximum allows them. A count above the guest's maximum is refused by every toolstack, so a step
    /// may expect that refusal: no reason then.
    static func liveVcpuLimitReason(count: Int, guestMaximum: Int?, limit: Int?) -> String? {
        guard let limit, let guestMaximum, count <= guestMaximum, count > limit else { return nil }
        return "libvirt's libxl driver refuses more live vCPUs than the host's \(limit) CPUs "
            + "(virDomainSetVcpusFlags: requested vcpus is greater than max allowable vcpus); xl allows it"
    }

    /// Sets the guest's live vCPU count. QEMU refuses to unplug a vCPU until the guest's ACPI code has switched
    /// its CPU hot-plug interface to the modern one, which happens as the guest boots ("device unplug request for
    /// not supported device type"): that refusal is asked again each second, until the guest is far enough or the
    /// step's time limit ends it. Any other refusal (and every refusal on the other drivers) fails the step.
    func setVcpus(_ count: Int, _ session: CaseSession) async throws -> ActionOutcome {
        let name = session.domainName
        let calls = CallLog()
        var delay = 0.25
        while true {
            let set = try await attempt { [self] in
                let domain = try lookup(name, calls)
                try calls.call("virDomainSetVcpusFlags", [name, String(count), "LIVE"]) {
                    try domain.setVcpuCount(count, scope: .live)
                }
            }
            guard case .failure(let error) = set else { return .success(calls.evidence) }
            guard Self.isGuestNotReadyForUnplug(error.message) else { return .failure(error.message, calls.evidence) }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 1)
        }
    }

    /// The guest's live vCPU count and each vCPU's hard affinity (over the host's CPUs, `all` when it has every one).
    func vcpuList(_ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            let count = try calls.call("virDomainGetVcpusFlags", [name, "LIVE"]) { try domain.vcpuCount(.live) }
            let maximum = try calls.call("virDomainGetVcpusFlags", [name, "LIVE", "MAXIMUM"]) {
                try domain.vcpuCount([.live, .maximum])
            }
            let hostCPUs = try calls.call("virNodeGetInfo", []) { try connection.nodeInfo().cpus }
            let pinning = try calls.call("virDomainGetVcpuPinInfo", [name, "LIVE"]) {
                try domain.vcpuPinning(vcpus: maximum, hostCPUs: hostCPUs)
            }
            var affinity: [Int: CPUSet] = [:]
            for (vcpu, cpus) in pinning.enumerated() {
                affinity[vcpu] = CPUSet(cpus: cpus).normalized(hostCPUs: hostCPUs)
            }
            return .success(calls.evidence, observation: .vcpus(online: count, affinity: affinity))
        }
    }

    /// `virDomainPinVcpu`: one vCPU's hard affinity, over the host's CPUs (virNodeGetInfo).
    func pinVcpu(_ vcpu: Int, to cpus: CPUSet, _ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            let hostCPUs = try calls.call("virNodeGetInfo", []) { try connection.nodeInfo().cpus }
            try calls.call("virDomainPinVcpu", [name, String(vcpu), cpus.description]) {
                try domain.pinVcpu(vcpu, to: cpus.cpus ?? Set(0..<hostCPUs), hostCPUs: hostCPUs)
            }
            return .success(calls.evidence)
        }
    }

    /// QEMU's refusal to unplug a CPU while the guest still uses the legacy ACPI CPU hot-plug interface.
    static func isGuestNotReadyForUnplug(_ message: String) -> Bool {
        message.contains("device unplug request for not supported device type")
    }

    /// libvirt resets every device before it passes it through (virHostdevPreparePCIDevices) and refuses one that has
    /// no FLR, PM or bus reset ("Unable to reset PCI device ...: no FLR, PM reset or bus reset available").
    public var resetsPCIDevicesBeforePassthrough: Bool { driver != .test }

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

    /// Making the host file's device assignable (detached from its driver) and giving it back, the devices that are
    /// assignable, and passing one through to the guest or taking it away.
    func pci(_ action: Action, _ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        return try await outcome(calls) { [self] in
            switch action {
            case .pciAssignableAdd(let role), .pciAssignableRemove(let role):
                let address = try device(role, session)
                guard
                    let node = try calls.call(
                        "virNodeDeviceLookupByName",
                        [address.libvirtNodeDeviceName],
                        { try connection.nodeDevice(named: address.libvirtNodeDeviceName) }
                    )
                else {
                    return .failure("libvirt knows no node device \(address.libvirtNodeDeviceName)", calls.evidence)
                }
                if case .pciAssignableAdd = action {
                    session.record(.assignablePCIDevice(address))
                    try calls.call("virNodeDeviceDetachFlags", [node.name]) { try node.detach() }
                } else {
                    try calls.call("virNodeDeviceReAttach", [node.name]) { try node.reattach() }
                    // Teardown gives it back unless it really left the stub driver (libvirt may leave it there).
                    if !Self.stubDrivers.contains(try boundDriver(node, calls)) {
                        session.forget(.assignablePCIDevice(address))
                    }
                }
                return .success(calls.evidence)
            case .pciAssignableList:
                var assignable: [PCIAddress] = []
                for device in session.host.pciDevices.values.map(\.address).sorted() {
                    guard let node = try connection.nodeDevice(named: device.libvirtNodeDeviceName) else { continue }
                    if Self.stubDrivers.contains(try boundDriver(node, calls)) { assignable.append(device) }
                }
                return .success(calls.evidence, observation: .pciDevices(assignable))
            case .pciAttach(let role), .pciDetach(let role):
                let domain = try lookup(name, calls)
                let xml = DomainXMLRenderer.hostdevXML(try device(role, session))
                if case .pciAttach = action {
                    try calls.call("virDomainAttachDeviceFlags", [name, xml, "LIVE"]) {
                        try domain.attachDevice(xml: xml)
                    }
                } else {
                    try calls.call("virDomainDetachDeviceFlags", [name, xml, "LIVE"]) {
                        try domain.detachDevice(xml: xml)
                    }
                }
                return .success(calls.evidence)
            case .pciList:
                let domain = try lookup(name, calls)
                let xml = try calls.call("virDomainGetXMLDesc", [name]) { try domain.xml() }
                return .success(calls.evidence, observation: .pciDevices(LibvirtXML(xml).hostdevAddresses))
            default: preconditionFailure("\(action.name) is not a PCI action")
            }
        }
    }

    /// The host file's device for `role`; a libvirt-shaped error when it names none (the planner skips such cases).
    func device(_ role: String, _ session: CaseSession) throws -> PCIAddress {
        guard let address = session.host.pciDevices[role]?.address else {
            throw LibvirtError(
                code: 8,
                domain: 0,
                message: "the host file names no PCI device for role '\(role)'",
                call: "host file"
            )
        }
        return address
    }

    /// The stub drivers a device waits on while it is assignable (QEMU's vfio-pci, Xen's pciback).
    static let stubDrivers: Set<String> = ["vfio-pci", "pciback", "xen-pciback", "pci-stub"]

    /// The driver `node` is bound to now ("" for none), from libvirt's XML of it.
    func boundDriver(_ node: LibvirtNodeDevice, _ calls: CallLog) throws -> String {
        let xml = try calls.call("virNodeDeviceGetXMLDesc", [node.name]) { try node.xml() }
        return LibvirtXML(xml).nodeDeviceDriver
    }

    /// Makes sure a device the run made assignable is back with the host after `virNodeDeviceReAttach`. libvirt's
    /// libxl driver binds it to pciback through driver_override, which makes pciback add a slot for it, and gives it
    /// back without removing that slot, so the reprobe hands it to pciback again (seen with libvirt 9.0 on Xen
    /// 4.17.7). Then, through dom0's shell, what `xl pci-assignable-remove -r` does: remove the slot, unbind, reprobe.
    /// Throws when the device is still on a stub driver: teardown reports it, never leaves it silently.
    func giveBackFromPciback(_ address: PCIAddress, after evidence: [Evidence]) async throws -> [Evidence] {
        let nodeName = address.libvirtNodeDeviceName
        let calls = CallLog()
        let bound = try await Self.offPool { [self] () throws -> String in
            guard let node = try connection.nodeDevice(named: nodeName) else { return "" }
            return try boundDriver(node, calls)
        }
        let checked = calls.evidence
        guard Self.stubDrivers.contains(bound) else { return checked }
        guard driver == .xen, bound == "pciback", let shell = hostShell else {
            throw BackendFailure(
                "\(address) is still bound to \(bound) after virNodeDeviceReAttach; give it back to its driver by hand",
                evidence: evidence + checked
            )
        }
        var results = checked
        for file in ["drivers/pciback/remove_slot", "drivers/pciback/unbind", "drivers_probe"] {
            let result = try await shell.run(
                ["tee", "/sys/bus/pci/" + file],
                timeout: .seconds(10),
                input: address.description
            )
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
}
