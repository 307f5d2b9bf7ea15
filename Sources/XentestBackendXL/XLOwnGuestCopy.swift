import XentestPlan
import XentestSupport

/// A copy of the tester's own xl (or xm-era) config, made so that nothing of the original is used for writing:
/// the copy has the case's domain name, no UUID (xl makes one), MACs of its own, and each writable image disk
/// replaced by a qcow2 overlay backed by the original image, which only reads it.
///
/// Everything else is kept as written (kernel, bootloader, PCI devices, extra keys), so the copy boots as the
/// tester's guest does.
struct XLOwnGuestCopy: Equatable {
    /// An overlay to make before the copy starts: `qemu-img create -f qcow2 -F FORMAT -b ORIGINAL PATH`.
    struct Overlay: Equatable {
        /// The tester's image, only ever read.
        var original: String
        /// Its format, as qemu-img names it (`raw`, `qcow2`, `vpc`).
        var format: String
        /// The run's overlay.
        var path: String

        /// The command that makes it; it fails when the image cannot be opened for reading (missing, or locked
        /// for writing by a guest using it).
        var makeCommand: [String] { ["qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", original, path] }
    }

    /// The copy's config text.
    var text: String
    /// The overlays it needs, in disk order.
    var overlays: [Overlay]

    /// Why a config cannot be copied safely (a disk that cannot be overlaid); the case is skipped with it.
    struct CannotCopy: Error, Equatable { var reason: String }

    /// The copy of `config` for `guest`, its overlays in `directory`; throws `CannotCopy` when a disk cannot be
    /// overlaid.
    static func make(_ config: XLConfigFile, for guest: GuestInstance, overlaysIn directory: String) throws(CannotCopy)
        -> XLOwnGuestCopy
    {
        var lines = [
            "# A copy of \(config.file) made by xentest for \(guest.domainName): its disks are overlays, the "
                + "original is never written."
        ]
        var overlays: [Overlay] = []
        var wroteName = false
        for setting in config.settings().settings {
            switch setting.key {
            case "name":
                lines.append("name = \(quoted(guest.domainName))")
                wroteName = true
            case "uuid": continue  // xl gives the copy a UUID of its own
            case "vif":
                lines.append(
                    "vif = " + list(items(setting).enumerated().map { vif($1, mac: guest.macAddress(nic: $0)) })
                )
            case "disk":
                var disks: [String] = []
                for (index, item) in items(setting).enumerated() {
                    let disk = XLDiskSpec(item)
                    guard !disk.isReadOnly, !disk.target.isEmpty else {
                        disks.append(item)  // read-only media and empty drives are never written
                        continue
                    }
                    let image = disk.image
                    guard !image.isBlockDevice, image.path.hasPrefix("/") else {
                        throw CannotCopy(
                            reason: "disk '\(item)' of \(config.file) is "
                                + (image.isBlockDevice ? "a block device" : "not an image file")
                                + ": xentest overlays image files only, so it never writes to the tester's disks"
                        )
                    }
                    let overlay = Overlay(
                        original: image.path,
                        format: qemuFormat(image.format ?? "raw"),
                        path: "\(directory)/\(guest.domainName)-own\(index).qcow2"
                    )
                    overlays.append(overlay)
                    let vdev = disk.vdev ?? XLCommand.xlDiskName(index)
                    disks.append("format=qcow2,vdev=\(vdev),access=rw,target=\(overlay.path)")
                }
                lines.append("disk = " + list(disks))
            default: lines.append("\(setting.key) = \(setting.value)")
            }
        }
        if !wroteName { lines.insert("name = \(quoted(guest.domainName))", at: 1) }
        return XLOwnGuestCopy(text: lines.joined(separator: "\n") + "\n", overlays: overlays)
    }

    /// A vif item with its `mac=` replaced by `mac` (added when it had none).
    static func vif(_ item: String, mac: String) -> String {
        let options = item.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("mac=") }
        return (options + ["mac=\(mac)"]).joined(separator: ",")
    }

    /// qemu-img's name for an xl disk format: `vhd` is `vpc`.
    static func qemuFormat(_ format: String) -> String { format == "vhd" ? "vpc" : format }

    private static func items(_ setting: XLConfigFile.Setting) -> [String] {
        setting.value.items?.compactMap(\.text) ?? setting.value.text.map { [$0] } ?? []
    }

    private static func list(_ items: [String]) -> String { "[ " + items.map(quoted).joined(separator: ", ") + " ]" }

    private static func quoted(_ text: String) -> String { XLConfigRenderer.quoted(text) }
}
