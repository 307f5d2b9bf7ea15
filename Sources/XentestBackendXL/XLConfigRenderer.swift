import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport
/// Renders a guest as an `xl.cfg` (see xl.cfg(5)): what `xl create` reads, and what a tester can copy.
public enum XLConfigRenderer {
    /// The config file text; deterministic for the same guest. Its disk images are in `imageDirectory` (beside the
    /// config), or named bare when nil.
    public static func render(_ guest: GuestInstance, imageDirectory: String? = nil) -> String {
        let spec = guest.spec
        var lines = [
            "# Guest '\(spec.name)', written by xentest", "name = \(quoted(guest.domainName))",
            "type = \(quoted(spec.type.rawValue))", "kernel = \(quoted(guest.kernel))",
            "ramdisk = \(quoted(guest.ramdisk))", "extra = \(quoted(guest.commandLine))",
            "memory = \(spec.memory.mebibytes)", "vcpus = \(spec.vcpus)", "maxvcpus = \(spec.maxvcpus)",
        ]
        if spec.nics > 0 {
            let model = spec.type == .hvm ? ",model=e1000" : ""
            let vifs = (0..<spec.nics).map { "'bridge=\(guest.bridge),mac=\(guest.macAddress(nic: $0))\(model)'" }
            lines.append("vif = [ \(vifs.joined(separator: ", ")) ]")
        }
        if !spec.pci.isEmpty {
            let devices = spec.pci.map { role in guest.host.pciDevices[role]?.address.description ?? "PCI_\(role)" }
            lines.append("pci = [ \(devices.map { "'\($0)'" }.joined(separator: ", ")) ]")
        }
        var disks = spec.disks.enumerated()
            .map { index, disk in
                let path = guest.diskImagePath(index, disk.format, in: imageDirectory)
                return quoted(XLCommand.diskSpecification(disk, index: index, path: path))
            }
        if spec.cdrom != nil {
            disks.append(quoted(XLCommand.cdromSpecification(path: guest.cdMediumPath(0, in: imageDirectory))))
        }
        if !disks.isEmpty { lines.append("disk = [ \(disks.joined(separator: ", ")) ]") }
        if spec.passthrough { lines.append("passthrough = \"enabled\"") }
        if spec.type == .hvm {
            lines.append("serial = \"pty\"")
            // No display unless the plan asks for one (`xl-config: {vga: stdvga}`): its keys replace these defaults
            // (xl reads `stdvga` only when there is no `vga`).
            func planSets(_ keys: String...) -> Bool { keys.contains { spec.xlConfigValue($0) != nil } }
            if !planSets("vga", "stdvga") { lines.append("vga = \"none\"") }
            if !planSets("vnc") { lines.append("vnc = 0") }
            if !planSets("sdl") { lines.append("sdl = 0") }
        }
        lines += ["on_poweroff = \"destroy\"", "on_reboot = \"restart\"", "on_crash = \"destroy\""]
        if !spec.xlConfig.isEmpty {
            lines.append("# The plan's xl-config")
            lines += spec.xlConfig.map { "\($0.key) = \(value($0.value))" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A plan's value as xl.cfg writes it: numbers bare (xl's NUMBER takes no sign, so a negative one is quoted),
    /// booleans as 1 and 0, text double-quoted, lists in brackets. The loader has refused line breaks.
    static func value(_ value: XLConfigValue) -> String {
        switch value {
        case .integer(let number): number >= 0 ? String(number) : quoted(String(number))
        case .boolean(let flag): flag ? "1" : "0"
        case .string(let text): quoted(text)
        case .list(let items): "[ " + items.map(quoted).joined(separator: ", ") + " ]"
        }
    }

    /// A double-quoted xl.cfg string. xl's parser (libxlu_cfg.c, `xlu__cfgl_dequote`) takes C-like escapes, among
    /// them backslash and quote, so those two are escaped; a string cannot span lines.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
