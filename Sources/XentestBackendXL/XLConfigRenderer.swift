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
        if !spec.disks.isEmpty {
            let disks = spec.disks.enumerated()
                .map { index, disk in
                    let path = guest.diskImagePath(index, disk.format, in: imageDirectory)
                    return quoted(XLCommand.diskSpecification(disk, index: index, path: path))
                }
            lines.append("disk = [ \(disks.joined(separator: ", ")) ]")
        }
        if spec.passthrough { lines.append("passthrough = \"enabled\"") }
        if spec.type == .hvm { lines += ["serial = \"pty\"", "vga = \"none\"", "vnc = 0", "sdl = 0"] }
        lines += ["on_poweroff = \"destroy\"", "on_reboot = \"restart\"", "on_crash = \"destroy\""]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A double-quoted xl.cfg string; xl's parser has C-like escapes for backslash and quote.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
