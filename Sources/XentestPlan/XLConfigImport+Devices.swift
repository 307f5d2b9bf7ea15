import Foundation

extension XLConfigReading {
    /// The items of a list key, each with its own line; a key that is not a list is reported (xl ignores it).
    mutating func listItems(_ setting: XLConfigFile.Setting) -> [(text: String, location: SourceLocation)]? {
        guard let items = setting.value.items else {
            skip(setting.key, "a single value, where xl takes a list ([ ... ]); xl ignores it", at: setting.location)
            return nil
        }
        var texts: [(String, SourceLocation)] = []
        for item in items {
            guard let text = item.text else {
                skip(setting.key, "a list inside the list, which xl does not take here", at: item.location)
                continue
            }
            texts.append((text, item.location))
        }
        return texts
    }

    /// `disk = [ 'phy:/dev/vg/x,xvda,w', '/img,raw,xvda,rw' ]`: every disk names something on one host, and
    /// xentest's guests have only the empty images a run makes (`disks: [SIZE]`), so none is carried over.
    mutating func readDisks(_ setting: XLConfigFile.Setting) {
        for (spec, location) in listItems(setting) ?? [] {
            let disk = XLDiskSpec(spec)
            let access = disk.access.map { ", \($0.contains("w") ? "read-write" : "read-only")" } ?? ""
            let why: String
            if disk.isCDROM {
                why = "xentest gives an HVM guest a CD-ROM drive only with a medium it makes (cdrom: SIZE)"
            } else if disk.target.hasPrefix("phy:") || disk.target.hasPrefix("/dev/") {
                why = "a plan names no host's device: xentest gives a guest empty images it makes (disks: [SIZE])"
            } else {
                why = "xentest gives a guest only empty images it makes and removes (disks: [SIZE])"
            }
            let what =
                disk.target.isEmpty
                ? "an empty drive \(disk.vdev ?? "")" : "\(disk.target) as \(disk.vdev ?? "(no device name)")\(access)"
            skip(setting.key, "'\(spec)' (\(what)): \(why)", at: location)
        }
    }

    /// `vif = [ 'mac=00:16:3e:00:00:01, bridge=xenbr0' ]`: one NIC an item; what the options set is the host file's
    /// (bridge) or xentest's (MAC, model).
    mutating func readNICs(_ setting: XLConfigFile.Setting) {
        for (spec, location) in listItems(setting) ?? [] {
            guard guest.nics < 8 else {
                skip(setting.key, "'\(spec)': a plan's guest has at most 8 NICs", at: location)
                continue
            }
            guest.nics += 1
            for option in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let name = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? option
                let value = option.split(separator: "=", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
                switch (name, value) {
                case ("", _), ("type", "ioemu"): continue  // ioemu is what an HVM guest's NIC is anyway
                case ("model", "e1000") where guest.type == .hvm: continue
                case ("bridge", _): skip(setting.key, "'\(option)': the host file's 'bridge' names it", at: location)
                case ("mac", _):
                    skip(
                        setting.key,
                        "'\(option)': xentest gives each NIC a MAC of its own (00:16:3e, from the domain name)",
                        at: location
                    )
                case ("model", _):
                    skip(setting.key, "'\(option)': xentest gives an HVM guest's NICs the e1000 model", at: location)
                default: skip(setting.key, "'\(option)': xentest's NICs take xl's defaults for it", at: location)
                }
            }
        }
    }

    /// `pci = [ '0000:03:00.0' ]`: an address is one host's, so the guest gets a role (`pci1`) that the host file
    /// maps to a device.
    mutating func readPCI(_ setting: XLConfigFile.Setting) {
        for (spec, location) in listItems(setting) ?? [] {
            var options = spec.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            var device = options.isEmpty ? "" : options.removeFirst()
            if device.hasPrefix("bdf=") { device = String(device.dropFirst(4)) }
            let address = device.split(separator: "@").first.map(String.init) ?? device
            guard case .success(let parsed) = PCIAddress.parse(address) else {
                skip(setting.key, "'\(spec)': not a PCI address xl takes ([domain:]bus:device.function)", at: location)
                continue
            }
            let role = "pci\(guest.pci.count + 1)"
            guest.pci.append(role)
            guest.passthrough = true
            skip(
                setting.key,
                "'\(spec)': the address is this host's; the guest has role '\(role)', which the host file maps "
                    + "(pci-devices: {\(role): \(parsed)})",
                at: location
            )
            if device != address { skip(setting.key, "'\(device)': xl chooses the guest's slot", at: location) }
            for option in options {
                skip(setting.key, "'\(option)': xentest passes devices through with xl's defaults", at: location)
            }
        }
    }

    /// `passthrough = "enabled"`: PCI hot-plug later; xl's other modes are left to xl.
    mutating func readPassthrough(_ setting: XLConfigFile.Setting) {
        switch setting.value.text {
        case "disabled": break
        case "enabled": guest.passthrough = true
        case "share_pt", "sync_pt":
            guest.passthrough = true
            skip(
                setting.key,
                "'\(setting.value.text ?? "")': xentest writes passthrough = \"enabled\" and lets xl choose the mode",
                at: setting.location
            )
        default: skip(setting.key, "xl takes disabled, enabled, share_pt or sync_pt", at: setting.location)
        }
    }
}

/// One item of `disk`, as libxlu reads it (tools/libs/util/libxlu_disk_l.l): `key=value` options, or positional
/// fields, `target,vdev,access` after an xm prefix (`phy:`, `file:`, `tap:aio:`, `nbd:`) and `target,format,vdev,access`
/// without.
package struct XLDiskSpec: Sendable, Hashable {
    /// The image or device (`/srv/web.img`, `phy:/dev/vg/web`: an xm prefix is kept), "" for an empty drive.
    package var target = ""
    /// The guest's device name (`xvda`, `hdc`).
    package var vdev: String?
    /// `r`, `ro`, `w`, `rw` as written.
    package var access: String?
    /// The image's format as written (`format=`, the field after the target, or an xm prefix such as `qcow2:`).
    package var format: String?
    /// Whether it is a CD-ROM drive.
    package var isCDROM = false

    /// Whether the guest may only read it (`access=r` or `ro`), as CD-ROMs are.
    package var isReadOnly: Bool { isCDROM || access.map { !$0.contains("w") } == true }

    /// The target without its xm prefixes (`tap:aio:/srv/a.img` is `/srv/a.img`) and the image format they imply:
    /// `qcow2:` and `tap:qcow2:` qcow2, `vhd:` vhd, `phy:` a block device (nil), the others raw; the format field
    /// when there is one wins.
    package var image: (path: String, format: String?, isBlockDevice: Bool) {
        var path = Substring(target)
        var implied: String? = "raw"
        var block = false
        while let colon = path.firstIndex(of: ":"), !path[..<colon].contains("/") {
            switch path[..<colon] {
            case "qcow2": implied = "qcow2"
            case "qcow": implied = "qcow"
            case "vhd": implied = "vhd"
            case "phy":
                implied = nil
                block = true
            default: break
            }
            path = path[path.index(after: colon)...]
        }
        if path.hasPrefix("/dev/") { block = true }
        return (String(path), format ?? implied, block)
    }

    /// Reads one item of xl's `disk = [...]` (xl-disk-configuration(5)), positional fields and `key=value` ones.
    package init(_ spec: String) {
        var positional: [String] = []
        var rest = Substring(spec)
        while !rest.isEmpty || positional.isEmpty {
            let field: Substring
            if rest.hasPrefix("target=") {
                field = rest
                rest = ""
            } else if let comma = rest.firstIndex(of: ",") {
                field = rest[..<comma]
                rest = rest[rest.index(after: comma)...]
            } else {
                field = rest
                rest = ""
            }
            let text = field.trimmingCharacters(in: .whitespaces)
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            switch parts.first {
            case "target" where parts.count == 2: target = parts[1]
            case "vdev" where parts.count == 2: vdev = parts[1]
            case "access" where parts.count == 2: access = parts[1]
            case "format" where parts.count == 2: format = parts[1]
            case "devtype" where parts.count == 2: isCDROM = parts[1] == "cdrom"
            case "cdrom": isCDROM = true
            default: if parts.count == 1 || text.isEmpty { positional.append(text) }
            }
            if rest.isEmpty { break }
        }
        guard !positional.isEmpty else { return }
        if target.isEmpty { target = positional.removeFirst() }
        let prefixes = [
            "phy:", "file:", "tap:", "tap2:", "aio:", "ioemu:", "tapdisk:", "raw:", "qcow:", "qcow2:", "vhd:", "iscsi:",
            "nbd:", "enbd:", "drbd:",
        ]
        let xmStyle = prefixes.contains { target.hasPrefix($0) }
        // Without an xm prefix the field after the target is the format, unless an empty target is followed by
        // `vdev:devtype` (an empty CD-ROM drive).
        if !xmStyle, let first = positional.first, !(target.isEmpty && first.contains(":")) {
            if format == nil, !first.isEmpty { format = first }
            positional.removeFirst()
        }
        if vdev == nil, !positional.isEmpty { vdev = positional.removeFirst() }
        if access == nil, !positional.isEmpty { access = positional.removeFirst() }
        if let name = vdev, name.hasSuffix(":cdrom") {
            vdev = String(name.dropLast(":cdrom".count))
            isCDROM = true
        }
    }
}
