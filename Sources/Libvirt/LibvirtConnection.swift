import CLibvirt
import Dispatch
import Synchronization

/// An open libvirt connection (`virConnectPtr`), e.g. to `qemu:///system`, `xen:///system` or `test:///default`.
///
/// Every method is a synchronous C call: against a remote daemon it blocks the calling thread for a round trip.
/// Domains, networks and node devices obtained from a connection keep it alive inside libvirt, so they stay
/// usable after `close()`.
public final class LibvirtConnection: @unchecked Sendable {
    // @unchecked Sendable: libvirt connections are thread-safe (libvirt locks each object and documents
    // `virConnectPtr` as usable from several threads since 0.6.0). The only Swift state, the handle and the event
    // registrations, is guarded by `state`; each call takes its own libvirt reference so `close()` on another
    // thread cannot free the connection under a running call.
    private struct State: Sendable {
        var handle: Handle?
        /// The one lifecycle registration, made with the first stream.
        var lifecycleCallbackID: Int32?
    }

    /// The `virConnectPtr`, Sendable for the reason the class is.
    private struct Handle: @unchecked Sendable { let pointer: OpaquePointer }

    private let state: Mutex<State>
    /// The lifecycle streams, fed by the connection's one registration.
    private let lifecycle: LifecycleSubscribers
    /// What libvirt's close callback reaches: the lifecycle streams to end, and why it closed.
    private let closeWatch: ConnectionCloseWatch

    /// The URI this connection was opened with.
    public let requestedURI: String

    /// Opens a connection; `readOnly` uses virConnectOpenReadOnly, which needs fewer privileges.
    ///
    /// Starts `LibvirtEventLoop` first, so events can be delivered on every connection.
    public init(uri: String, readOnly: Bool = false) throws(LibvirtError) {
        LibvirtEventLoop.start()
        let handle =
            readOnly
            ? try check(virConnectOpenReadOnly(uri), "virConnectOpenReadOnly")
            : try check(virConnectOpen(uri), "virConnectOpen")
        state = Mutex(State(handle: Handle(pointer: handle)))
        requestedURI = uri
        lifecycle = LifecycleSubscribers()
        closeWatch = ConnectionCloseWatch(ending: lifecycle)
        watchForClose(handle)
    }

    deinit { close() }

    /// Closes the connection; later calls throw an error whose `isInvalidConnection` is true.
    ///
    /// Deregisters this connection's event callback first, which ends its streams. Closing twice is harmless.
    public func close() { closeReportingRelease() }

    /// Closes the connection: true when libvirt freed it, false when libvirt objects (domains, networks,
    /// devices, streams, calls in flight) still hold references to it, nil when it was already closed.
    @discardableResult func closeReportingRelease() -> Bool? {
        let (handle, callbackID) = state.withLock { state in
            defer { state = State() }
            return (state.handle, state.lifecycleCallbackID)
        }
        guard let handle = handle?.pointer else { return nil }
        // Once this returns no close callback runs (libvirt calls it under the lock this takes), so the watch may
        // go with this object. Drivers inside this process have no close callback and say so with -1.
        virConnectUnregisterCloseCallback(handle, connectionClosedCallback)
        // Outside the lock: deregistering runs the free callback, which ends the streams.
        if let callbackID { virConnectDomainEventDeregisterAny(handle, callbackID) }
        // 1 (still referenced) is no error: the objects holding references release them when freed.
        return virConnectClose(handle) == 0
    }

    /// Runs `body` with the C handle, holding a libvirt reference so a concurrent `close()` cannot free it.
    func withHandle<T>(_ call: String, _ body: (OpaquePointer) throws(LibvirtError) -> T) throws(LibvirtError) -> T {
        let handle = try state.withLock { (state) throws(LibvirtError) -> OpaquePointer in
            guard let handle = state.handle?.pointer else { throw LibvirtError.closedConnection(call: call) }
            virConnectRef(handle)
            return handle
        }
        // body has already turned any failure into a LibvirtError, so this call may reset the thread's error.
        defer { virConnectClose(handle) }
        return try body(handle)
    }

    // MARK: Liveness

    /// Why a connection closed under its user (`virConnectCloseReason`).
    public enum CloseReason: Int32, Sendable, Hashable, CustomStringConvertible {
        case error = 0
        case endOfFile = 1
        case keepalive = 2
        case client = 3

        /// What happened, in words.
        public var description: String {
            switch self {
            case .error: "a socket error"
            case .endOfFile: "the daemon closed it (end of file)"
            case .keepalive: "the daemon stopped answering keepalives"
            case .client: "the client closed it"
            }
        }
    }

    /// Whether the connection still reaches its hypervisor (virConnectIsAlive): false once the daemon behind a
    /// remote connection (libvirtd, also for qemu:///system) went away, and after `close()`. Asks no daemon.
    public var isAlive: Bool {
        let alive = try? withHandle("virConnectIsAlive") { handle throws(LibvirtError) in
            try checkBool(virConnectIsAlive(handle), "virConnectIsAlive")
        }
        return alive ?? false
    }

    /// Why the daemon's side closed the connection, once it has; nil while it is open (and after `close()` alone).
    public var closeReason: CloseReason? { closeWatch.reason }

    /// Registers the close callback (a no-op for drivers inside this process, such as test://), so a connection
    /// that dies under its user ends the lifecycle streams waiting on it instead of leaving them silent forever.
    private func watchForClose(_ handle: OpaquePointer) {
        // Unretained: the watch lives as long as this object, whose close() unregisters the callback first.
        let opaque = Unmanaged.passUnretained(closeWatch).toOpaque()
        // Without it, waits on this connection end at their own time limits instead.
        _ = virConnectRegisterCloseCallback(handle, connectionClosedCallback, opaque, nil)
    }

    // MARK: Host

    /// The canonical URI libvirt resolved the connection to, e.g. `qemu:///system` for an empty requested URI.
    public var uri: String {
        get throws(LibvirtError) {
            try withHandle("virConnectGetURI") { handle throws(LibvirtError) in
                try takeString(virConnectGetURI(handle), "virConnectGetURI")
            }
        }
    }

    /// The driver name, e.g. "QEMU", "Xen" or "TEST".
    public var driverType: String {
        get throws(LibvirtError) {
            try withHandle("virConnectGetType") { handle throws(LibvirtError) in
                // A static string inside libvirt: not ours to free.
                String(cString: try check(virConnectGetType(handle), "virConnectGetType"))
            }
        }
    }

    /// The version of libvirt serving the connection (the daemon's, for a remote connection).
    public var libraryVersion: LibvirtVersion {
        get throws(LibvirtError) {
            try withHandle("virConnectGetLibVersion") { handle throws(LibvirtError) in
                var version: UInt = 0
                try check(virConnectGetLibVersion(handle, &version), "virConnectGetLibVersion")
                return LibvirtVersion(encoded: UInt64(version))
            }
        }
    }

    /// The hypervisor's version as the driver reports it, e.g. the QEMU or Xen version.
    public var hypervisorVersion: LibvirtVersion {
        get throws(LibvirtError) {
            try withHandle("virConnectGetVersion") { handle throws(LibvirtError) in
                var version: UInt = 0
                try check(virConnectGetVersion(handle, &version), "virConnectGetVersion")
                return LibvirtVersion(encoded: UInt64(version))
            }
        }
    }

    /// The host's name as the hypervisor host sees it.
    public var hostname: String {
        get throws(LibvirtError) {
            try withHandle("virConnectGetHostname") { handle throws(LibvirtError) in
                try takeString(virConnectGetHostname(handle), "virConnectGetHostname")
            }
        }
    }

    /// CPU and memory facts about the host.
    public func nodeInfo() throws(LibvirtError) -> NodeInfo {
        try withHandle("virNodeGetInfo") { handle throws(LibvirtError) in
            var info = virNodeInfo()
            try check(virNodeGetInfo(handle, &info), "virNodeGetInfo")
            return NodeInfo(info)
        }
    }

    /// The host's free memory in bytes; libvirt reports 0 as a failure.
    public func freeMemoryBytes() throws(LibvirtError) -> UInt64 {
        try withHandle("virNodeGetFreeMemory") { handle throws(LibvirtError) in
            let bytes = virNodeGetFreeMemory(handle)
            // libvirt itself treats 0 as failure, e.g. a test-driver host without NUMA cells.
            guard bytes != 0 else { throw LibvirtError.last(call: "virNodeGetFreeMemory") }
            return UInt64(bytes)
        }
    }

    /// The host capabilities XML (`virsh capabilities`).
    public func capabilitiesXML() throws(LibvirtError) -> String {
        try withHandle("virConnectGetCapabilities") { handle throws(LibvirtError) in
            try takeString(virConnectGetCapabilities(handle), "virConnectGetCapabilities")
        }
    }

    /// The most vCPUs one guest may have; `type` is a domain type such as "kvm" or "xen", nil for the default.
    public func maxVcpus(type: String? = nil) throws(LibvirtError) -> Int {
        try withHandle("virConnectGetMaxVcpus") { handle throws(LibvirtError) in
            Int(try check(virConnectGetMaxVcpus(handle, type), "virConnectGetMaxVcpus"))
        }
    }

    // MARK: Domains

    /// All domains, running and defined, in libvirt's order.
    public func domains() throws(LibvirtError) -> [LibvirtDomain] {
        try withHandle("virConnectListAllDomains") { handle throws(LibvirtError) in
            var list: UnsafeMutablePointer<virDomainPtr?>?
            let count = try check(virConnectListAllDomains(handle, &list, 0), "virConnectListAllDomains")
            return takeList(list, count: count, LibvirtDomain.init(takingOwnershipOf:))
        }
    }

    /// The domain with this name, or nil when there is none.
    ///
    /// Only `VIR_ERR_NO_DOMAIN` becomes nil; any other failure throws.
    public func domain(named name: String) throws(LibvirtError) -> LibvirtDomain? {
        try withHandle("virDomainLookupByName") { handle throws(LibvirtError) in
            guard let domain = virDomainLookupByName(handle, name) else {
                let error = LibvirtError.last(call: "virDomainLookupByName")
                if error.isNoDomain { return nil }
                throw error
            }
            return LibvirtDomain(takingOwnershipOf: domain)
        }
    }

    /// Defines a persistent domain from its XML, replacing the definition of a domain with the same name.
    public func defineDomain(xml: String) throws(LibvirtError) -> LibvirtDomain {
        try withHandle("virDomainDefineXML") { handle throws(LibvirtError) in
            LibvirtDomain(takingOwnershipOf: try check(virDomainDefineXML(handle, xml), "virDomainDefineXML"))
        }
    }

    /// Starts a domain again from the file `LibvirtDomain.save(to:)` wrote on the hypervisor's host.
    public func restoreDomain(from path: String) throws(LibvirtError) {
        try withHandle("virDomainRestore") { handle throws(LibvirtError) in
            _ = try check(virDomainRestore(handle, path), "virDomainRestore")
        }
    }

    // MARK: Networks

    /// All networks, active and defined, in libvirt's order.
    public func networks() throws(LibvirtError) -> [LibvirtNetwork] {
        try withHandle("virConnectListAllNetworks") { handle throws(LibvirtError) in
            var list: UnsafeMutablePointer<virNetworkPtr?>?
            let count = try check(virConnectListAllNetworks(handle, &list, 0), "virConnectListAllNetworks")
            return takeList(list, count: count, LibvirtNetwork.init(takingOwnershipOf:))
        }
    }

    /// The network with this name, or nil when there is none.
    ///
    /// Only `VIR_ERR_NO_NETWORK` becomes nil; any other failure throws.
    public func network(named name: String) throws(LibvirtError) -> LibvirtNetwork? {
        try withHandle("virNetworkLookupByName") { handle throws(LibvirtError) in
            guard let network = virNetworkLookupByName(handle, name) else {
                let error = LibvirtError.last(call: "virNetworkLookupByName")
                if error.isNoNetwork { return nil }
                throw error
            }
            return LibvirtNetwork(takingOwnershipOf: network)
        }
    }

    /// Creates and starts a transient network from its XML: it exists until `destroy()`, and leaves no definition.
    public func createNetwork(xml: String) throws(LibvirtError) -> LibvirtNetwork {
        try withHandle("virNetworkCreateXML") { handle throws(LibvirtError) in
            LibvirtNetwork(takingOwnershipOf: try check(virNetworkCreateXML(handle, xml), "virNetworkCreateXML"))
        }
    }

    /// Defines a persistent, inactive network from its XML.
    public func defineNetwork(xml: String) throws(LibvirtError) -> LibvirtNetwork {
        try withHandle("virNetworkDefineXML") { handle throws(LibvirtError) in
            LibvirtNetwork(takingOwnershipOf: try check(virNetworkDefineXML(handle, xml), "virNetworkDefineXML"))
        }
    }

    // MARK: Node devices

    /// The host's devices, optionally only those with one capability such as "pci" or "net".
    ///
    /// Known capability names are filtered by libvirt; names this library does not know (newer libvirt) are
    /// filtered here by each device's `capabilities`. Inactive devices are included: the test driver rejects
    /// the ACTIVE filter.
    public func nodeDevices(capability: String? = nil) throws(LibvirtError) -> [LibvirtNodeDevice] {
        let flag = capability.flatMap { LibvirtNodeDevice.listFlags[$0] }
        let devices = try withHandle("virConnectListAllNodeDevices") { handle throws(LibvirtError) in
            var list: UnsafeMutablePointer<virNodeDevicePtr?>?
            let count = try check(
                virConnectListAllNodeDevices(handle, &list, flag ?? 0),
                "virConnectListAllNodeDevices"
            )
            return takeList(list, count: count, LibvirtNodeDevice.init(takingOwnershipOf:))
        }
        guard let capability, flag == nil else { return devices }
        var matching: [LibvirtNodeDevice] = []
        for device in devices where try device.capabilities.contains(capability) { matching.append(device) }
        return matching
    }

    /// The node device with this name (e.g. "pci_0000_00_1f_2"), or nil when there is none.
    ///
    /// Only `VIR_ERR_NO_NODE_DEVICE` becomes nil; any other failure throws.
    public func nodeDevice(named name: String) throws(LibvirtError) -> LibvirtNodeDevice? {
        try withHandle("virNodeDeviceLookupByName") { handle throws(LibvirtError) in
            guard let device = virNodeDeviceLookupByName(handle, name) else {
                let error = LibvirtError.last(call: "virNodeDeviceLookupByName")
                if error.isNoNodeDevice { return nil }
                throw error
            }
            return LibvirtNodeDevice(takingOwnershipOf: device)
        }
    }

    // MARK: Events

    /// Lifecycle events of all domains on this connection, from now until the stream ends.
    ///
    /// The stream ends when the consumer stops iterating or when the connection closes. Any number may be open at
    /// once: they share the connection's one libvirt registration (see `LifecycleSubscribers`). Events arrive
    /// through `LibvirtEventLoop`'s thread, in libvirt's order.
    public func domainLifecycleEvents() throws(LibvirtError) -> AsyncStream<DomainLifecycleEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: DomainLifecycleEvent.self)
        // Under the lock, so a concurrent close() either sees the registration or wins before it exists.
        try state.withLock { (state) throws(LibvirtError) in
            guard let handle = state.handle?.pointer else {
                throw LibvirtError.closedConnection(call: "virConnectDomainEventRegisterAny")
            }
            if state.lifecycleCallbackID == nil {
                let opaque = Unmanaged.passRetained(lifecycle).toOpaque()
                do throws(LibvirtError) {
                    state.lifecycleCallbackID = try check(
                        virConnectDomainEventRegisterAny(
                            handle,
                            nil,
                            Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue),
                            domainLifecycleCallback,
                            opaque,
                            releaseLifecycleSubscribers
                        ),
                        "virConnectDomainEventRegisterAny"
                    )
                } catch {
                    // libvirt calls the free callback only for a registration that succeeded.
                    Unmanaged<LifecycleSubscribers>.fromOpaque(opaque).release()
                    throw error
                }
            }
            // The daemon went away: the registration feeds no stream again.
            guard lifecycle.add(continuation) else {
                throw LibvirtError.closedConnection(call: "virConnectDomainEventRegisterAny")
            }
        }
        return stream
    }

    /// The number of lifecycle streams open on this connection.
    var lifecycleStreamCount: Int { lifecycle.count }
}

/// What libvirt's opaque pointer refers to for a connection's close callback: why the connection closed, and the
/// lifecycle streams to end when the daemon goes away.
final class ConnectionCloseWatch: Sendable {
    private let closeReason = Mutex<LibvirtConnection.CloseReason?>(nil)
    private let lifecycle: LifecycleSubscribers

    init(ending lifecycle: LifecycleSubscribers) { self.lifecycle = lifecycle }

    var reason: LibvirtConnection.CloseReason? { closeReason.withLock { $0 } }

    /// Runs on libvirt's event loop thread: records why, and ends every lifecycle stream (ending one makes no
    /// libvirt call, so it may happen inside libvirt's close callback).
    func closed(_ reason: Int32) {
        closeReason.withLock { $0 = LibvirtConnection.CloseReason(rawValue: reason) ?? .error }
        lifecycle.endAll()
    }
}

/// libvirt's close callback (`virConnectCloseFunc`), on the event loop thread; a global function, so it carries no
/// context.
private func connectionClosed(_ connection: OpaquePointer?, _ reason: Int32, _ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    Unmanaged<ConnectionCloseWatch>.fromOpaque(opaque).takeUnretainedValue().closed(reason)
}

let connectionClosedCallback: virConnectCloseFunc = connectionClosed

/// Wraps each pointer of a libvirt `ListAll*` array into its owning Swift object, then frees the array.
func takeList<T>(_ list: UnsafeMutablePointer<OpaquePointer?>?, count: Int32, _ wrap: (OpaquePointer) -> T) -> [T] {
    guard let list else { return [] }
    defer { free(list) }
    return (0..<Int(count)).compactMap { list[$0].map(wrap) }
}

/// A libvirt or hypervisor version, decoded from libvirt's `major * 1,000,000 + minor * 1,000 + micro`.
public struct LibvirtVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The major version.
    public var major: Int
    /// The minor version.
    public var minor: Int
    /// The micro (patch) version.
    public var micro: Int

    /// Creates a version from its parts.
    public init(major: Int, minor: Int, micro: Int) {
        self.major = major
        self.minor = minor
        self.micro = micro
    }

    /// Decodes libvirt's integer encoding, e.g. 9000000 is 9.0.0.
    public init(encoded: UInt64) {
        self.init(major: Int(encoded / 1_000_000), minor: Int(encoded / 1_000 % 1_000), micro: Int(encoded % 1_000))
    }

    /// The dotted form, e.g. "9.0.0".
    public var description: String { "\(major).\(minor).\(micro)" }

    /// Orders by major, then minor, then micro version.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.major, lhs.minor, lhs.micro) < (rhs.major, rhs.minor, rhs.micro)
    }
}

/// The host's CPUs and memory as libvirt reports them (virNodeGetInfo).
public struct NodeInfo: Sendable, Hashable {
    /// The CPU architecture or model, e.g. "x86_64".
    public var model: String
    /// Total memory in KiB.
    public var memoryKiB: UInt64
    /// Active logical CPUs.
    public var cpus: Int
    /// Expected CPU frequency in MHz, 0 when unknown.
    public var mhz: Int
    /// NUMA nodes; 1 for uniform memory access.
    public var nodes: Int
    /// CPU sockets per NUMA node.
    public var sockets: Int
    /// Cores per socket.
    public var cores: Int
    /// Threads per core.
    public var threads: Int

    /// Creates node facts from their parts.
    public init(
        model: String,
        memoryKiB: UInt64,
        cpus: Int,
        mhz: Int,
        nodes: Int,
        sockets: Int,
        cores: Int,
        threads: Int
    ) {
        self.model = model
        self.memoryKiB = memoryKiB
        self.cpus = cpus
        self.mhz = mhz
        self.nodes = nodes
        self.sockets = sockets
        self.cores = cores
        self.threads = threads
    }

    init(_ info: virNodeInfo) {
        // model is a char[32]; read up to its NUL without trusting that one is present.
        let model = withUnsafeBytes(of: info.model) { bytes in
            let characters = bytes.prefix { $0 != 0 }
            return String(decoding: characters, as: UTF8.self)
        }
        self.init(
            model: model,
            memoryKiB: UInt64(info.memory),
            cpus: Int(info.cpus),
            mhz: Int(info.mhz),
            nodes: Int(info.nodes),
            sockets: Int(info.sockets),
            cores: Int(info.cores),
            threads: Int(info.threads)
        )
    }
}
