import Foundation
import XentestPlan

/// What one line of xl's stderr says, for the messages the harness knows.
public enum XLMessageKind: Sendable, Hashable {
    /// `Requested 5 VCPUs, however maxcpus is 4!` (from `xl vcpu-set -i`).
    case vcpusAboveMaximum(requested: Int, maximum: Int)
    /// `You are overcommmitting! You have 2 physical CPUs and want 4 vCPUs! ...` (`xl vcpu-set` without `-i`,
    /// which xl checks before maxvcpus: `xl vcpu-set NAME 5` on a 2-CPU host says this, not the maxvcpus error).
    case overcommit(physicalCPUs: Int, requestedVCPUs: Int)
    /// `NAME is an invalid domain identifier (rc=-6)`.
    case noSuchDomain(String)
    /// `xc_assign_device failed: Operation not supported` (`xl pci-attach` on a host without an IOMMU).
    case noIOMMU
    /// `passthrough not supported on this platform` (`xl create` of a guest with `passthrough="enabled"` or `pci=`
    /// on a host without an IOMMU).
    case passthroughUnsupported
    /// `failed to quarantine ADDRESS` (`xl pci-assignable-add` without an IOMMU; the device is listed as assignable
    /// anyway).
    case quarantineFailed(String)
    /// `The kernel doesn't support reset from sysfs for PCI device ADDRESS`: logged at error level on every
    /// successful pci-attach/detach of a device without a reset method; harmless.
    case pciResetUnsupported(String)
    /// `Domain with name "NAME" already exists.` (`xl create` of a name in use).
    case domainNameInUse(String)
    /// `xenstore-read: couldn't read path PATH`.
    case xenstorePathUnreadable(String)
    /// `xc: error: Failed to enable logdirty: 95,...` (`xl migrate` of a PV guest on a Xen without shadow paging).
    case logDirtyUnsupported
    /// `memory_dynamic_max must be less than or equal to memory_static_max` (`xl mem-set` above the guest's
    /// maximum, which `xl mem-max` sets).
    case memoryAboveMaximum
    /// `Setting vcpu affinity: Invalid argument` (`xl vcpu-pin` to a CPU the host lacks, or of a vCPU the guest
    /// lacks: Xen says EINVAL for both).
    case affinityRefused
    /// `device already exists in xenstore` (`xl block-attach` to a virtual device the guest has already).
    case deviceExists
    /// `Disk vdev=VDEV failed to stat: PATH: No such file or directory` (`xl block-attach` or `xl create` of a disk
    /// whose image is not there).
    case diskImageMissing(String)
    /// `Error: Device VDEV not connected.` (`xl block-detach` of a disk the guest does not have).
    case deviceNotConnected(String)
    /// A libxl line reporting that a step failed after an earlier line gave the reason: `cannot make domain`,
    /// `libxl_set_vcpuonline failed`, `libxl__device_pci_add failed`, `unable to add device`, the destroy-after-failed
    /// create lines.
    case consequence
    /// Progress, not a problem: `Parsing config from`, `Shutting down domain`, `Waiting for N domains`,
    /// `Domain N has been shut down`, and libxl `info:` lines.
    case progress
    /// A line the harness does not know.
    case unrecognized
}

/// One line of xl's stderr, with a short explanation when it is known.
public struct XLMessage: Sendable, Hashable {
    /// What the line says.
    public var kind: XLMessageKind
    /// The 1-based line number within stderr.
    public var lineNumber: Int
    /// The line as xl printed it.
    public var text: String
    /// The libxl level (`error`, `info`, ...) when the line has libxl's `libxl: LEVEL: file.c:N:function:` prefix.
    public var libxlLevel: String?
    /// A short sentence for a reader of the report; nil for progress, consequences and unrecognized lines.
    public var explanation: String?

    /// Lines that do not indicate a failure: progress and the PCI reset notice.
    public var isHarmless: Bool {
        switch kind {
        case .progress, .pciResetUnsupported: true
        default: false
        }
    }
}

/// xl's stderr, line by line.
public struct XLStderr: Sendable, Hashable {
    /// Every non-blank line, classified.
    public var messages: [XLMessage]

    /// The line that best explains a failure: the first known, non-harmless problem; else the first unrecognized
    /// line; else the first consequence line; nil when stderr has only harmless lines (or none).
    public var primaryProblem: XLMessage? {
        messages.first { $0.explanation != nil && !$0.isHarmless } ?? messages.first { $0.kind == .unrecognized }
            ?? messages.first { $0.kind == .consequence }
    }

    /// One sentence for the report: the primary problem's explanation, or its original text when it is not known.
    public var summary: String? { primaryProblem.map { $0.explanation ?? $0.text } }
}

extension XLParse {
    /// Classifies each line of an xl command's stderr; never fails (unknown lines are `.unrecognized`).
    public static func stderr(_ text: String) -> XLStderr {
        var messages: [XLMessage] = []
        for (number, line) in numberedLines(text) where !isBlank(line) {
            let (level, body) = splitLibxlPrefix(line)
            let (kind, explanation) = classify(body, level: level)
            messages.append(
                XLMessage(kind: kind, lineNumber: number, text: line, libxlLevel: level, explanation: explanation)
            )
        }
        return XLStderr(messages: messages)
    }

    private static func classify(_ body: String, level: String?) -> (XLMessageKind, String?) {
        if let match = body.firstMatch(of: /Requested (\d+) VCPUs, however maxcpus is (\d+)!/),
            let requested = Int(match.1), let maximum = Int(match.2)
        {
            return (
                .vcpusAboveMaximum(requested: requested, maximum: maximum),
                "asked for \(requested) vCPUs; the guest's maxvcpus is \(maximum)"
            )
        }
        if let match = body.firstMatch(
            of: /You are overcomm+itting! You have (\d+) physical CPUs and want (\d+) vCPUs!/
        ), let physical = Int(match.1), let requested = Int(match.2) {
            return (
                .overcommit(physicalCPUs: physical, requestedVCPUs: requested),
                "asked for \(requested) vCPUs on a host with \(physical) physical CPUs; xl refuses without -i"
            )
        }
        if let match = body.wholeMatch(of: /(.+) is an invalid domain identifier( \(rc=-?\d+\))?/) {
            return (.noSuchDomain(String(match.1)), "no such domain: \(match.1)")
        }
        if body.contains("xc_assign_device failed: Operation not supported") {
            return (.noIOMMU, "the host has no IOMMU for passthrough")
        }
        if body.contains("passthrough not supported on this platform") {
            return (.passthroughUnsupported, "the guest asks for PCI passthrough but the host has no IOMMU")
        }
        if let match = body.firstMatch(of: /failed to quarantine (\S+)/) {
            return (
                .quarantineFailed(String(match.1)),
                "could not quarantine \(match.1) for passthrough (the host has no IOMMU?)"
            )
        }
        if let match = body.firstMatch(of: /The kernel doesn't support reset from sysfs for PCI device (\S+)/) {
            return (.pciResetUnsupported(String(match.1)), "dom0 cannot reset \(match.1) through sysfs (harmless)")
        }
        if let match = body.firstMatch(of: /Domain with name "(.*)" already exists/) {
            return (.domainNameInUse(String(match.1)), "a domain named \(match.1) already exists")
        }
        if let match = body.firstMatch(of: /^xenstore-read: couldn't read path (.+)$/) {
            return (.xenstorePathUnreadable(String(match.1)), "xenstore has no readable \(match.1)")
        }
        if body.contains("Failed to enable logdirty: 95") {
            return (
                .logDirtyUnsupported,
                "Xen cannot track the pages the guest dirties (log-dirty mode): a PV guest's live migration needs "
                    + "shadow paging, which this Xen lacks"
            )
        }
        if body.contains("memory_dynamic_max must be less than or equal to memory_static_max") {
            return (.memoryAboveMaximum, "the memory target is above the guest's maximum memory (see xl mem-max)")
        }
        if body.contains("Setting vcpu affinity: Invalid argument") {
            return (
                .affinityRefused, "Xen refused the pin (EINVAL): the host has no such CPU up, or the guest no such vCPU"
            )
        }
        if body.contains("device already exists in xenstore") {
            return (.deviceExists, "the guest already has a device at that virtual device (vdev)")
        }
        if let match = body.firstMatch(of: /failed to stat: (.+): No such file or directory/) {
            return (.diskImageMissing(String(match.1)), "the disk image \(match.1) does not exist in dom0")
        }
        if let match = body.wholeMatch(of: /Error: Device (\S+) not connected\./) {
            return (.deviceNotConnected(String(match.1)), "the guest has no disk \(match.1)")
        }
        let consequences = [
            "Could not set affinity for vcpu", "cannot make domain", "libxl_set_vcpuonline failed",
            "libxl__device_pci_add failed", "unable to add device", "Unable to destroy guest",
            "Destruction of domain failed", "Non-existant domain", "Failed to save domain, resuming domain",
            "cannot (re-)build domain", "xc: error: Save failed", "xc: error: Restore failed",
            "xc: error: Failed to read Record Header", "saving domain: domain did not", "restoring domain: ",
            "migration sender: libxl_domain_suspend failed", "Domain creation failed", "Migration failed",
            "cannot set domid", "libxl_device_disk_add failed", "does not exist (no backend path",
        ]
        if consequences.contains(where: { body.contains($0) }) { return (.consequence, nil) }
        if level == "info" || body.hasPrefix("Parsing config from ") || body.hasPrefix("Shutting down domain ")
            || body.firstMatch(of: /^Waiting for \d+ domains$/) != nil
            || body.firstMatch(of: /^Domain \d+ has been shut down, reason code \d+$/) != nil
            || saveAndMigrationProgress.contains(where: { body.drop { $0 == " " }.hasPrefix($0) })
        {
            return (.progress, nil)
        }
        return (.unrecognized, nil)
    }

    /// How `xl save`, `xl restore`, `xl migrate` and `xl reboot` tell their progress (seen on Xen 4.17): libxc's
    /// `xc: info:` and `xc: progress:` lines, and xl's own.
    static let saveAndMigrationProgress = [
        "xc: info:", "xc: progress:", "Saving to ", "Loading new save file ", "Savefile contains xl domain config",
        "Rebooting domain ", "migration target: Ready", "migration target: Transfer complete",
        "migration target: Got permission", "migration target: Domain started", "migration sender: Target has",
        "migration sender: Giving target permission", "migration sender: Target reports successful",
        "Migration successful",
    ]

    /// `libxl: error: libxl_pci.c:1529:pci_add_dm_done: Domain 1:MESSAGE` -> ("error", "MESSAGE").
    private static func splitLibxlPrefix(_ line: String) -> (String?, String) {
        guard let match = line.wholeMatch(of: /libxl: ([a-z]+): [^:]+:\d+:[^:]+: (?:Domain \d+:)?(.*)/) else {
            return (nil, line)
        }
        return (String(match.1), String(match.2))
    }
}
