import Foundation
import XentestPlan

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A copy of the tester's own libvirt domain, made from its inactive XML so that nothing of the original is used for
/// writing: the copy has the case's domain name, no UUID (libvirt makes one), MACs of its own, each writable image
/// disk replaced by a qcow2 overlay backed by the original image (which QEMU then only reads, and libvirt does not
/// relabel), and a copy of its UEFI variables when it has a file of them.
///
/// Also left out, as they would clash with the original running beside the copy: a fixed graphics port (the copy's
/// is chosen by libvirt), a fixed tap device name of an interface, and a static security label (the copy gets a
/// dynamic one: two guests with one label could reach each other's files). Everything else is kept as written
/// (kernel, firmware, PCI devices, CD-ROMs), so the copy boots as the tester's guest does.
struct LibvirtOwnGuestCopy: Equatable {
    /// A file to make on the hypervisor's host before the copy is defined, from one of the original's, which is
    /// only ever read.
    struct MadeFile: Equatable {
        /// The tester's file.
        var original: String
        /// The run's file.
        var path: String
        /// The command that makes it: for an overlay, `qemu-img create` (which fails when the image cannot be opened
        /// for reading: missing, or locked for writing by a guest using it); for UEFI variables, `cp`.
        var makeCommand: [String]
        /// Whether it is an overlay of a disk image (else a copy of UEFI variables).
        var isOverlay: Bool { makeCommand.first == "qemu-img" }

        /// A qcow2 overlay at `path` of the image `original` in `format` (as qemu-img names it).
        static func overlay(of original: String, format: String, at path: String) -> MadeFile {
            MadeFile(
                original: original,
                path: path,
                makeCommand: ["qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", original, path]
            )
        }
    }

    /// The copy's domain XML.
    var xml: String
    /// The overlays of its disks, in disk order.
    var overlays: [MadeFile]
    /// The copy of its UEFI variables (`<nvram>`), when it has a file of them: the guest writes there.
    var nvram: MadeFile?

    /// Every file to make before the copy is defined.
    var files: [MadeFile] { overlays + (nvram.map { [$0] } ?? []) }

    /// Why a domain cannot be copied safely (a writable disk that is not an image file); the case is skipped with it.
    struct CannotCopy: Error, Equatable { var reason: String }

    /// The copy of `template` (the domain's inactive XML) for `guest`, its files in `directory`; throws `CannotCopy`
    /// when a writable disk cannot be overlaid.
    static func make(_ template: String, of name: String, for guest: GuestInstance, filesIn directory: String)
        throws(CannotCopy) -> LibvirtOwnGuestCopy
    {
        let document: XMLDocument
        do { document = try XMLDocument(xmlString: template, options: [.nodePreserveWhitespace]) } catch {
            throw CannotCopy(reason: "the libvirt domain '\(name)' has XML xentest cannot read: \(error)")
        }
        guard let domain = document.rootElement(), domain.name == "domain" else {
            throw CannotCopy(reason: "the libvirt domain '\(name)' has no <domain> in its XML")
        }
        setChild("name", of: domain, to: guest.domainName)
        // libvirt gives the copy a UUID of its own.
        for uuid in domain.elements(forName: "uuid") { remove(uuid) }

        let devices = domain.elements(forName: "devices").first
        for (index, interface) in (devices?.elements(forName: "interface") ?? []).enumerated() {
            let mac = interface.elements(forName: "mac").first ?? appended("mac", to: interface)
            set("address", guest.macAddress(nic: index), on: mac)
            // A tap device named in the template is the running original's: libvirt names the copy's.
            for target in interface.elements(forName: "target") { remove(target) }
        }
        var overlays: [MadeFile] = []
        for (index, disk) in (devices?.elements(forName: "disk") ?? []).enumerated() {
            let path = "\(directory)/\(guest.domainName)-own\(index).qcow2"
            if let overlay = try overlay(disk, path: path, template: name) { overlays.append(overlay) }
        }
        for graphics in devices?.elements(forName: "graphics") ?? [] {
            // A fixed port is the running original's: the copy's is chosen by libvirt.
            let fixed = ["port", "tlsPort"].contains { attribute(graphics, $0).map { $0 != "-1" } ?? false }
            guard fixed || attribute(graphics, "autoport") == "no" else { continue }
            graphics.removeAttribute(forName: "port")
            graphics.removeAttribute(forName: "tlsPort")
            set("autoport", "yes", on: graphics)
            if let websocket = attribute(graphics, "websocket"), websocket != "-1" {
                set("websocket", "-1", on: graphics)
            }
        }
        // A static label is the original's: guests sharing one could reach each other's files.
        for label in domain.elements(forName: "seclabel") where attribute(label, "type") == "static" { remove(label) }

        var nvram: MadeFile?
        if let element = domain.elements(forName: "os").first?.elements(forName: "nvram").first {
            let original = element.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if attribute(element, "type") != nil || !element.elements(forName: "source").isEmpty {
                throw CannotCopy(
                    reason: "the UEFI variables (<nvram>) of the libvirt domain '\(name)' are not a plain file: "
                        + "xentest copies a file of them only, so it never writes to the tester's"
                )
            }
            if !original.isEmpty {
                let path = "\(directory)/\(guest.domainName)-VARS.fd"
                nvram = MadeFile(original: original, path: path, makeCommand: ["cp", original, path])
                element.setStringValue(path, resolvingEntities: false)
            }
        }
        return LibvirtOwnGuestCopy(
            xml: domain.xmlString(options: [.nodeCompactEmptyElement]),
            overlays: overlays,
            nvram: nvram
        )
    }

    /// Points a writable image disk at its overlay `path` and returns the overlay; nil for a disk that is never
    /// written (a CD-ROM, a read-only disk, an empty drive).
    private static func overlay(_ disk: XMLElement, path: String, template name: String) throws(CannotCopy) -> MadeFile?
    {
        let device = attribute(disk, "device") ?? "disk"
        let source = disk.elements(forName: "source").first
        guard device != "cdrom", disk.elements(forName: "readonly").isEmpty, let source else { return nil }
        let type = attribute(disk, "type") ?? "file"
        let target = disk.elements(forName: "target").first.flatMap { attribute($0, "dev") } ?? "?"
        guard type == "file", let original = attribute(source, "file"), original.hasPrefix("/") else {
            throw CannotCopy(
                reason: "disk \(target) (type '\(type)') of the libvirt domain '\(name)' is "
                    + (type == "block" ? "a block device" : "not an image file")
                    + ": xentest overlays image files only, so it never writes to the tester's disks"
            )
        }
        guard disk.elements(forName: "encryption").isEmpty, source.elements(forName: "encryption").isEmpty else {
            throw CannotCopy(
                reason: "disk \(target) of the libvirt domain '\(name)' is encrypted: xentest overlays plain image "
                    + "files only, so it never writes to the tester's disks"
            )
        }
        let driver = disk.elements(forName: "driver").first ?? appended("driver", to: disk)
        let format = qemuFormat(attribute(driver, "type") ?? "raw")
        if attribute(driver, "name") == nil { set("name", "qemu", on: driver) }
        set("type", "qcow2", on: driver)
        set("file", path, on: source)
        disk.addChild(readOnlyBacking(original, format: format, above: disk.elements(forName: "backingStore")))
        return .overlay(of: original, format: format, at: path)
    }

    /// The original image as the overlay's `<backingStore>`, marked not to be relabelled, above its own backing
    /// chain when the template names one (`chain`, moved in; otherwise libvirt reads the rest of the chain from the
    /// images). Left to find the image in the overlay's header, libvirt would give it to QEMU's user (its owner, its
    /// SELinux label) and never give it back, as other guests may share a backing image: QEMU reads it instead with
    /// the access the tester gave it.
    private static func readOnlyBacking(_ original: String, format: String, above chain: [XMLElement]) -> XMLElement {
        let backing = XMLElement(name: "backingStore")
        set("type", "file", on: backing)
        set("type", format, on: appended("format", to: backing))
        let source = appended("source", to: backing)
        set("file", original, on: source)
        for model in ["dac", "selinux"] {
            let label = appended("seclabel", to: source)
            set("model", model, on: label)
            set("relabel", "no", on: label)
        }
        for deeper in chain {
            remove(deeper)
            backing.addChild(deeper)
        }
        return backing
    }

    /// qemu-img's name for a libvirt disk format: the libxl driver's `aio` is raw.
    static func qemuFormat(_ format: String) -> String { format == "aio" ? "raw" : format }

    private static func attribute(_ element: XMLElement, _ name: String) -> String? {
        element.attribute(forName: name)?.stringValue
    }

    private static func set(_ name: String, _ value: String, on element: XMLElement) {
        if let existing = element.attribute(forName: name) {
            existing.stringValue = value
        } else if let attribute = XMLNode.attribute(withName: name, stringValue: value) as? XMLNode {
            element.addAttribute(attribute)
        }
    }

    /// Removes `element` and the indentation before it.
    private static func remove(_ element: XMLElement) {
        if let before = element.previousSibling, before.kind == .text,
            before.stringValue?.allSatisfy(\.isWhitespace) == true
        {
            before.detach()
        }
        element.detach()
    }

    private static func appended(_ name: String, to parent: XMLElement) -> XMLElement {
        let element = XMLElement(name: name)
        parent.addChild(element)
        return element
    }

    private static func setChild(_ name: String, of parent: XMLElement, to text: String) {
        let element = parent.elements(forName: name).first ?? appended(name, to: parent)
        element.setStringValue(text, resolvingEntities: false)
    }
}
