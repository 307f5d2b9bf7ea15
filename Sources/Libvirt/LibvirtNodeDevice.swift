import CLibvirt

/// A host device known to libvirt (`virNodeDevicePtr`), such as a PCI function to pass through to a guest.
public final class LibvirtNodeDevice: @unchecked Sendable {
    // @unchecked Sendable: libvirt objects are reference counted and locked inside libvirt, and this class only
    // holds the immutable pointer it frees in deinit.
    let handle: OpaquePointer

    /// The device's name, e.g. "pci_0000_00_1f_2".
    public let name: String

    /// Wraps a `virNodeDevicePtr` that the caller owns a reference to; `deinit` releases it with
    /// virNodeDeviceFree.
    init(takingOwnershipOf handle: OpaquePointer) {
        self.handle = handle
        // Cached in the C object and fixed for the device's lifetime.
        name = virNodeDeviceGetName(handle).map { String(cString: $0) } ?? ""
    }

    deinit { virNodeDeviceFree(handle) }

    /// The parent device's name, nil for the root device ("computer").
    public var parent: String? {
        // Owned by the device object: not ours to free.
        virNodeDeviceGetParent(handle).map { String(cString: $0) }
    }

    /// The device's capability names, e.g. ["pci"] or ["net"], as used by `nodeDevices(capability:)`.
    public var capabilities: [String] {
        get throws(LibvirtError) {
            let count = try check(virNodeDeviceNumOfCaps(handle), "virNodeDeviceNumOfCaps")
            guard count > 0 else { return [] }
            var names = [UnsafeMutablePointer<CChar>?](repeating: nil, count: Int(count))
            let listed = try check(virNodeDeviceListCaps(handle, &names, count), "virNodeDeviceListCaps")
            // Each name is a copy made for the caller.
            defer { for name in names { free(name) } }
            return names.prefix(Int(listed)).compactMap { $0.map { String(cString: $0) } }
        }
    }

    /// The device's XML description.
    public func xml() throws(LibvirtError) -> String {
        try takeString(virNodeDeviceGetXMLDesc(handle, 0), "virNodeDeviceGetXMLDesc")
    }

    /// Detaches the device from its host driver so it can be assigned to a guest.
    ///
    /// libvirt picks the stub driver for the hypervisor (vfio-pci, or pciback for Xen).
    public func detach() throws(LibvirtError) {
        try check(virNodeDeviceDetachFlags(handle, nil, 0), "virNodeDeviceDetachFlags")
    }

    /// Gives a detached device back to its host driver.
    public func reattach() throws(LibvirtError) { try check(virNodeDeviceReAttach(handle), "virNodeDeviceReAttach") }

    /// Resets the device (function-level or bus reset); it must not be in use by the host or a guest.
    public func reset() throws(LibvirtError) { try check(virNodeDeviceReset(handle), "virNodeDeviceReset") }

    /// virConnectListAllNodeDevices filter bits by capability name (libvirt's virNodeDevCapType names).
    static let listFlags: [String: UInt32] = [
        "system": VIR_CONNECT_LIST_NODE_DEVICES_CAP_SYSTEM.rawValue,
        "pci": VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV.rawValue,
        "usb_device": VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_DEV.rawValue,
        "usb": VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_INTERFACE.rawValue,
        "net": VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET.rawValue,
        "scsi_host": VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_HOST.rawValue,
        "scsi_target": VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_TARGET.rawValue,
        "scsi": VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI.rawValue,
        "storage": VIR_CONNECT_LIST_NODE_DEVICES_CAP_STORAGE.rawValue,
        "fc_host": VIR_CONNECT_LIST_NODE_DEVICES_CAP_FC_HOST.rawValue,
        "vports": VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS.rawValue,
        "scsi_generic": VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_GENERIC.rawValue,
        "drm": VIR_CONNECT_LIST_NODE_DEVICES_CAP_DRM.rawValue,
        "mdev_types": VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV_TYPES.rawValue,
        "mdev": VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV.rawValue,
        "ccw": VIR_CONNECT_LIST_NODE_DEVICES_CAP_CCW_DEV.rawValue,
        "css": VIR_CONNECT_LIST_NODE_DEVICES_CAP_CSS_DEV.rawValue,
        "vdpa": VIR_CONNECT_LIST_NODE_DEVICES_CAP_VDPA.rawValue,
        "ap_card": VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_CARD.rawValue,
        "ap_queue": VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_QUEUE.rawValue,
        "ap_matrix": VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_MATRIX.rawValue,
        "vpd": VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPD.rawValue,
    ]
}
