import CLibvirt

/// A libvirt virtual network (`virNetworkPtr`), defined or active.
public final class LibvirtNetwork: @unchecked Sendable {
    // @unchecked Sendable: libvirt objects are reference counted and locked inside libvirt, and this class only
    // holds the immutable pointer it frees in deinit.
    let handle: OpaquePointer

    /// The network's name.
    public let name: String

    /// Wraps a `virNetworkPtr` that the caller owns a reference to; `deinit` releases it with virNetworkFree.
    init(takingOwnershipOf handle: OpaquePointer) {
        self.handle = handle
        // Cached in the C object and fixed for the network's lifetime.
        name = virNetworkGetName(handle).map { String(cString: $0) } ?? ""
    }

    deinit { virNetworkFree(handle) }

    /// The host bridge the network uses, e.g. "virbr1".
    ///
    /// Drivers without real bridges (the test driver) report the name from the XML all the same.
    public var bridgeName: String {
        get throws(LibvirtError) { try takeString(virNetworkGetBridgeName(handle), "virNetworkGetBridgeName") }
    }

    /// Whether the network is running.
    public var isActive: Bool {
        get throws(LibvirtError) { try checkBool(virNetworkIsActive(handle), "virNetworkIsActive") }
    }

    /// Whether the network has a persistent definition.
    public var isPersistent: Bool {
        get throws(LibvirtError) { try checkBool(virNetworkIsPersistent(handle), "virNetworkIsPersistent") }
    }

    /// Starts the defined network.
    public func create() throws(LibvirtError) { try check(virNetworkCreate(handle), "virNetworkCreate") }

    /// Stops the network; its definition stays.
    public func destroy() throws(LibvirtError) { try check(virNetworkDestroy(handle), "virNetworkDestroy") }

    /// Removes the network's definition; an active network keeps running as a transient one.
    public func undefine() throws(LibvirtError) { try check(virNetworkUndefine(handle), "virNetworkUndefine") }

    /// The network's XML; `inactive` gives the persistent definition instead of the live one.
    public func xml(inactive: Bool = false) throws(LibvirtError) -> String {
        let flags = inactive ? VIR_NETWORK_XML_INACTIVE.rawValue : 0
        return try takeString(virNetworkGetXMLDesc(handle, flags), "virNetworkGetXMLDesc")
    }
}
