import Foundation
import XentestPlan

#if canImport(FoundationXML)
import FoundationXML
#endif

/// XML that libvirt returns (capabilities, a domain's or a node device's description), read through Foundation's
/// XML parser and XPath rather than by scanning the text: attributes in either quote style, elements split across
/// lines and comments all read as libvirt means them. Text that does not parse reads as an empty document, as if
/// it named nothing (libvirt never returns such text; a test does).
struct LibvirtXML {
    private let document: XMLDocument?

    /// Parses `text`.
    init(_ text: String) { document = try? XMLDocument(xmlString: text, options: []) }

    /// The text of every node `xpath` selects (elements' content, attributes' values), white space trimmed.
    func strings(_ xpath: String) -> [String] {
        guard let nodes = try? document?.nodes(forXPath: xpath) else { return [] }
        return nodes.compactMap { $0.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// How many nodes `xpath` selects.
    func count(_ xpath: String) -> Int { (try? document?.nodes(forXPath: xpath))?.count ?? 0 }

    /// The host's operating-system types in capabilities XML (`hvm`, `xen`, `xenpvh`, `exe`).
    var osTypes: Set<String> { Set(strings("/capabilities/guest/os_type")) }

    /// Whether capabilities XML says the host has an IOMMU for device assignment (`<iommu support='yes'/>`).
    var hostHasIOMMU: Bool { strings("/capabilities/host/iommu/@support") == ["yes"] }

    /// The driver a node device is bound to now ("" for none), from its description.
    var nodeDeviceDriver: String { strings("/device/driver/name").first ?? "" }

    /// The PCI addresses of a domain's `<hostdev>` devices, from their `<source><address .../>`.
    var hostdevAddresses: [PCIAddress] {
        guard let nodes = try? document?.nodes(forXPath: "/domain/devices/hostdev/source/address") else { return [] }
        return nodes.compactMap { node in
            guard let element = node as? XMLElement else { return nil }
            func number(_ name: String) -> Int? {
                guard let text = element.attribute(forName: name)?.stringValue else { return nil }
                return text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
            }
            guard let domain = number("domain"), let bus = number("bus"), let slot = number("slot"),
                let function = number("function")
            else { return nil }
            return PCIAddress(domain: domain, bus: bus, device: slot, function: function)
        }
    }

    /// How many network interfaces a domain has.
    var interfaceCount: Int { count("/domain/devices/interface") }

    /// The MAC addresses of a domain's interfaces, lower-cased.
    var interfaceMACs: [String] { strings("/domain/devices/interface/mac/@address").map { $0.lowercased() } }

    /// The target devices of a domain's disks (not its CD-ROMs): `xvda`, `vdb`.
    var diskTargets: [String] { strings("/domain/devices/disk[@device='disk']/target/@dev") }
}
