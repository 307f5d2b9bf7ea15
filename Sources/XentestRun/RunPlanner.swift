import XentestPlan
import XentestSupport
/// Whether a case runs on a backend, decided before anything is created.
public enum CaseDecision: Sendable, Hashable {
    case run
    /// Skipped, with every reason found (not just the first), so a tester sees all that is missing at once.
    case skip(reasons: [String])
}

/// The resolved run: each selected case on the chosen backend, to run or to skip with its reasons.
public struct RunPlan: Sendable {
    /// One case on one backend.
    public struct Entry: Sendable {
        /// The case, as the plan gives it.
        public var testCase: TestCase
        /// The toolstack it is resolved for.
        public var backend: BackendKind
        /// Whether it runs, or why it is skipped.
        public var decision: CaseDecision
    }

    /// The plan the cases come from.
    public var plan: Plan
    /// The selected cases, in plan order.
    public var entries: [Entry]
}

/// Resolves a plan against a host: no side effects, only facts.
public enum RunPlanner {
    /// Selects cases by id, by the id of a case that `for-each` expanded (all its variants), or by area (`only`; empty
    /// selects all) and decides run or skip for each.
    ///
    /// Throws when a selector matches nothing, with the closest id or area.
    public static func resolve(_ plan: Plan, only: [String], backend: any Backend, facts: HostFacts, host: HostConfig)
        throws(DiagnosticsError) -> RunPlan
    {
        var problems: [Diagnostic] = []
        func selects(_ selector: String, _ testCase: TestCase) -> Bool {
            testCase.id == selector || testCase.area == selector || testCase.id.hasPrefix(selector + ".")
        }
        for selector in only where !plan.cases.contains(where: { selects(selector, $0) }) {
            let known = plan.cases.map(\.id) + plan.areas
            var message = "--only '\(selector)' matches no case id or area of plan '\(plan.name)'"
            if let suggestion = closestMatch(to: selector, in: known) { message += "; did you mean '\(suggestion)'?" }
            problems.append(.error(message, at: SourceLocation(file: "command line")))
        }
        guard problems.isEmpty else { throw DiagnosticsError(problems) }
        let selected = plan.cases.filter { testCase in only.isEmpty || only.contains { selects($0, testCase) } }
        let entries = selected.map { testCase in
            let reasons = skipReasons(testCase, backend: backend, facts: facts, host: host)
            return RunPlan.Entry(
                testCase: testCase,
                backend: backend.kind,
                decision: reasons.isEmpty ? .run : .skip(reasons: reasons)
            )
        }
        return RunPlan(plan: plan, entries: entries)
    }

    /// Every reason `testCase` cannot run here; empty when it can.
    static func skipReasons(_ testCase: TestCase, backend: any Backend, facts: HostFacts, host: HostConfig) -> [String]
    {
        guard testCase.backends.contains(backend.kind) else {
            return ["the case runs on \(testCase.backends.map(\.rawValue).joined(separator: " and ")) only"]
        }
        var reasons: [String] = []
        for requirement in testCase.requirements {
            if let reason = unmet(requirement, backend: backend, facts: facts, host: host) { reasons.append(reason) }
        }
        // xentest's own guests boot its test guest; copies of the tester's guests boot what their configs say.
        if testCase.guests.contains(where: { $0.fromHost == nil }), facts.runsGuestCode,
            host.guestKernel == nil || host.guestRamdisk == nil
        {
            reasons.append("the host file names no guest-kernel and guest-ramdisk to boot the guest with")
        }
        reasons += unresettableDeviceReasons(testCase, backend: backend, facts: facts, host: host)
        reasons += testCase.guests.compactMap { backend.unsupportedReason(forGuest: $0) }
        var seenActions: Set<Action> = []
        for step in testCase.steps where seenActions.insert(step.action).inserted {
            if let reason = backend.unsupportedReason(for: step.action, guest: testCase.guest) {
                reasons.append(reason)
            }
        }
        var unique: [String] = []
        for reason in reasons where !unique.contains(reason) { unique.append(reason) }
        return unique
    }

    /// A case that passes a device without a reset method through (at boot or by pci-attach), on a backend that
    /// resets devices first and refuses those it cannot reset.
    static func unresettableDeviceReasons(
        _ testCase: TestCase,
        backend: any Backend,
        facts: HostFacts,
        host: HostConfig
    ) -> [String] {
        guard backend.resetsPCIDevicesBeforePassthrough, let without = facts.pciDevicesWithoutReset else { return [] }
        var roles = testCase.guest?.pci ?? []
        for step in testCase.steps { if case .pciAttach(let role) = step.action { roles.append(role) } }
        return Array(Set(roles)).sorted()
            .compactMap { role in
                guard let address = host.pciDevices[role]?.address, without.contains(address.description) else {
                    return nil
                }
                return
                    "\(facts.toolstack) resets a device before it passes it through, and '\(role)' (\(address)) has no "
                    + "reset method (no FLR, PM or bus reset: the kernel offers no /sys/bus/pci/devices/\(address)/reset); "
                    + "xl passes it through without one"
            }
    }

    static func unmet(_ requirement: Requirement, backend: any Backend, facts: HostFacts, host: HostConfig) -> String? {
        switch requirement {
        case .iommu:
            switch facts.iommu {
            case true: return nil
            case false: return "no IOMMU for passthrough on this host (virt_caps: \(capsText(facts)))"
            case nil: return "\(facts.toolstack) cannot tell whether this host has an IOMMU"
            }
        case .hvm: return facts.hvm == true ? nil : "this host cannot run HVM guests (virt_caps: \(capsText(facts)))"
        case .pvh: return facts.pvh == true ? nil : "this host cannot run PVH guests (virt_caps: \(capsText(facts)))"
        case .pciDevice(let role):
            return host.pciDevices[role] == nil
                ? "the host file names no PCI device for role '\(role)' (add 'pci-devices: {\(role): BDF}')" : nil
        case .largeBarDevice(let role):
            guard let device = host.pciDevices[role] else {
                return unmet(.pciDevice(role: role), backend: backend, facts: facts, host: host)
            }
            return device.largeBar ? nil : "the '\(role)' device is not marked 'large-bar: true' in the host file"
        case .bridge:
            // xl puts vifs on the bridge; libvirt uses its network when the host file names one.
            guard let wanted = backend.kind == .libvirt ? host.libvirtNetwork ?? host.bridge : host.bridge else {
                // libvirt on QEMU makes each guest an isolated network of its own.
                if backend.makesOwnNetwork { return nil }
                return "the host file names no bridge for guests' network interfaces"
            }
            return facts.bridges.contains(wanted) ? nil : "bridge or network '\(wanted)' does not exist on this host"
        case .shadowPaging:
            // Xen lists `hap` and `shadow` in virt_caps since 4.13 or so; a host that lists neither cannot tell.
            guard facts.virtCaps.contains("hap") || facts.virtCaps.contains("shadow") else { return nil }
            return facts.virtCaps.contains("shadow")
                ? nil
                : "Xen on this host has no shadow paging (no 'shadow' in xl info's virt_caps: \(capsText(facts))), "
                    + "which a PV guest's live migration needs to track the pages it dirties (log-dirty mode)"
        case .testGuest:
            guard facts.runsGuestCode else {
                return "checks inside the guest need a real guest, and \(facts.toolstack) runs no guest code"
            }
            return host.guestKernel == nil || host.guestRamdisk == nil
                ? "the host file names no test guest (guest-kernel and guest-ramdisk)" : nil
        case .minFreeMemory(let size):
            guard let free = facts.freeMemoryMiB else {
                return "needs \(size) free memory; \(facts.toolstack) cannot tell how much is free"
            }
            return free >= size.mebibytes ? nil : "needs \(size) free memory; the host has \(free) MiB free"
        case .diskFormat(let format):
            guard let formats = facts.diskFormats else {
                return "xentest has no shell on the hypervisor's host to make disk images with"
            }
            return formats.contains(format)
                ? nil : "the host cannot make \(format.rawValue) images: no qemu-img there (Debian: qemu-utils)"
        case .hostGuest(let role):
            guard let guest = host.guests[role] else {
                return "the host file names no guest for role '\(role)' (add 'guests: {\(role): {xl-config: PATH}}' "
                    + "or '{libvirt-domain: NAME}')"
            }
            switch (backend.kind, guest.source) {
            case (.xl, .xlConfig), (.libvirt, .libvirtDomain): return nil
            case (.xl, .libvirtDomain(let name)):
                return "the host file's guest '\(role)' is the libvirt domain '\(name)'; xl copies an xl config file "
                    + "(xl-config: PATH)"
            case (.libvirt, .xlConfig(let path)):
                return "the host file's guest '\(role)' is the xl config \(path); libvirt copies a libvirt domain "
                    + "(libvirt-domain: NAME)"
            }
        case .hostGuestAddress(let role):
            if let problem = unmet(.hostGuest(role: role), backend: backend, facts: facts, host: host) {
                return problem
            }
            return host.guests[role]?.address == nil
                ? "the host file gives no address for its guest '\(role)' to ping (add 'address: IPv4' to it)" : nil
        case .minHostCPUs(let count):
            return facts.cpus >= count ? nil : "needs \(count) physical CPUs; the host has \(facts.cpus)"
        case .xenVersion(let range):
            guard let version = facts.parsedXenVersion else {
                return "needs Xen \(range); this host is not running Xen"
            }
            return range.contains(version) ? nil : "needs Xen \(range); this host runs Xen \(version)"
        }
    }

    private static func capsText(_ facts: HostFacts) -> String {
        facts.virtCaps.isEmpty ? "none" : facts.virtCaps.joined(separator: " ")
    }

    /// The known issue that applies to a run on this backend and host, if any.
    public static func applicableKnownIssue(_ testCase: TestCase, backend: any Backend, facts: HostFacts) -> KnownIssue?
    {
        testCase.knownIssues.first { issue in
            if !issue.backends.isEmpty && !issue.backends.contains(backend.kind) { return false }
            if !issue.drivers.isEmpty && !issue.drivers.contains(backend.driver) { return false }
            if let range = issue.xen {
                guard let version = facts.parsedXenVersion, range.contains(version) else { return false }
            }
            return true
        }
    }
}
