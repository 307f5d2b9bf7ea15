import CLibvirt

/// A libvirt domain (`virDomainPtr`): a guest, running or only defined.
///
/// The object is a handle, not a snapshot: each property other than `name` and `uuidString` asks libvirt.
public final class LibvirtDomain: @unchecked Sendable {
    // @unchecked Sendable: libvirt objects are reference counted and locked inside libvirt, and this class only
    // holds the immutable pointer it frees in deinit.
    let handle: OpaquePointer

    /// The domain's name.
    public let name: String
    /// The domain's UUID in its canonical 36-character form.
    public let uuidString: String

    /// Wraps a `virDomainPtr` that the caller owns a reference to; `deinit` releases it with virDomainFree.
    init(takingOwnershipOf handle: OpaquePointer) {
        self.handle = handle
        // Both are cached in the C object, never change for a domain, and fail only on an invalid pointer.
        name = domainName(handle)
        uuidString = domainUUIDString(handle)
    }

    deinit { virDomainFree(handle) }

    /// The hypervisor's ID of the running domain (the Xen domid for Xen), nil while it is not running.
    public var id: Int? {
        get throws(LibvirtError) {
            // virDomainGetID returns the ID cached in this object when it was looked up or started through it,
            // which goes stale when the domain starts or stops any other way. A fresh lookup reads the current one.
            let connection = try check(virDomainGetConnect(handle), "virDomainGetConnect")
            guard let current = virDomainLookupByUUIDString(connection, uuidString) else {
                let error = LibvirtError.last(call: "virDomainLookupByUUIDString")
                // A transient domain is gone once it stops.
                if error.isNoDomain { return nil }
                throw error
            }
            defer { virDomainFree(current) }
            let id = virDomainGetID(current)
            // (unsigned int)-1 means inactive.
            return id == UInt32.max ? nil : Int(id)
        }
    }

    // MARK: Lifecycle

    /// Starts the defined domain.
    public func create() throws(LibvirtError) { try check(virDomainCreate(handle), "virDomainCreate") }

    /// Starts the defined domain with its vCPUs paused, e.g. to attach a console before the guest boots.
    ///
    /// Drivers without `VIR_DOMAIN_START_PAUSED` (the test driver) fail with `isInvalidArgument`; there is no
    /// fallback, since starting and then suspending would let the guest run in between.
    public func createPaused() throws(LibvirtError) {
        try check(virDomainCreateWithFlags(handle, VIR_DOMAIN_START_PAUSED.rawValue), "virDomainCreateWithFlags")
    }

    /// Stops the domain at once, like pulling the power cord; the definition stays.
    public func destroy() throws(LibvirtError) { try check(virDomainDestroy(handle), "virDomainDestroy") }

    /// Asks the guest to shut down; returns before the guest has stopped, which it may never do.
    public func shutdown() throws(LibvirtError) { try check(virDomainShutdown(handle), "virDomainShutdown") }

    /// Asks the guest to reboot; returns before it has, and the domain keeps its name (and, on QEMU, its process).
    public func reboot() throws(LibvirtError) { try check(virDomainReboot(handle, 0), "virDomainReboot") }

    /// Saves the running domain's memory and device state to `path` on the hypervisor's host and stops it; the
    /// definition stays. `LibvirtConnection.restoreDomain(from:)` starts it again from the file.
    public func save(to path: String) throws(LibvirtError) { try check(virDomainSave(handle, path), "virDomainSave") }

    /// Sets the most memory the domain may have, in KiB (`virDomainSetMaxMemory`: the live domain where the driver
    /// allows it).
    public func setMaxMemory(kiB: UInt64) throws(LibvirtError) {
        guard let kiB = UInt(exactly: kiB) else {
            throw LibvirtError.invalidArgument("memory \(kiB) KiB is out of range", call: "virDomainSetMaxMemory")
        }
        try check(virDomainSetMaxMemory(handle, kiB), "virDomainSetMaxMemory")
    }

    /// Pauses the domain's vCPUs; memory stays allocated.
    public func suspend() throws(LibvirtError) { try check(virDomainSuspend(handle), "virDomainSuspend") }

    /// Resumes a paused domain.
    public func resume() throws(LibvirtError) { try check(virDomainResume(handle), "virDomainResume") }

    /// Removes the domain's definition, with its managed save image, snapshot and checkpoint metadata and NVRAM.
    ///
    /// A running domain becomes transient and goes away when it stops. A driver that rejects some of these
    /// flags is asked again with managed save only, then with plain virDomainUndefine.
    public func undefine() throws(LibvirtError) {
        let managedSave = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue
        let everything =
            managedSave | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue
            | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.rawValue | VIR_DOMAIN_UNDEFINE_NVRAM.rawValue
        for flags in [everything, managedSave] {
            if virDomainUndefineFlags(handle, flags) >= 0 { return }
            let error = LibvirtError.last(call: "virDomainUndefineFlags")
            // Unsupported flags are reported as an invalid argument; anything else is a real failure.
            guard error.isNotSupported || error.isInvalidArgument else { throw error }
        }
        try check(virDomainUndefine(handle), "virDomainUndefine")
    }

    // MARK: State

    /// State, memory, vCPUs and CPU time in one call.
    public func info() throws(LibvirtError) -> DomainInfo {
        var info = virDomainInfo()
        try check(virDomainGetInfo(handle, &info), "virDomainGetInfo")
        return DomainInfo(
            state: DomainState(libvirtValue: Int32(info.state)),
            maxMemoryKiB: UInt64(info.maxMem),
            memoryKiB: UInt64(info.memory),
            vcpus: Int(info.nrVirtCpu),
            cpuTimeNanoseconds: info.cpuTime
        )
    }

    /// The domain's run state.
    public var state: DomainState {
        get throws(LibvirtError) {
            var state: Int32 = 0
            var reason: Int32 = 0
            try check(virDomainGetState(handle, &state, &reason, 0), "virDomainGetState")
            return DomainState(libvirtValue: state)
        }
    }

    /// Whether the domain is running (or paused): it has a live instance.
    public var isActive: Bool {
        get throws(LibvirtError) { try checkBool(virDomainIsActive(handle), "virDomainIsActive") }
    }

    /// Whether the domain has a persistent definition, rather than existing only while it runs.
    public var isPersistent: Bool {
        get throws(LibvirtError) { try checkBool(virDomainIsPersistent(handle), "virDomainIsPersistent") }
    }

    /// The domain's XML; `inactive` gives the persistent definition instead of the live one.
    public func xml(inactive: Bool = false) throws(LibvirtError) -> String {
        let flags = inactive ? VIR_DOMAIN_XML_INACTIVE.rawValue : 0
        return try takeString(virDomainGetXMLDesc(handle, flags), "virDomainGetXMLDesc")
    }

    // MARK: vCPUs and memory

    /// The vCPU count in `scope`: the live or persistent count, or with `.maximum` the most it can have.
    public func vcpuCount(_ scope: VcpuScope = []) throws(LibvirtError) -> Int {
        Int(try check(virDomainGetVcpusFlags(handle, scope.rawValue), "virDomainGetVcpusFlags"))
    }

    /// Sets the vCPU count in `scope`; with `.live` this hot-plugs or unplugs vCPUs of the running guest.
    ///
    /// A count above the maximum fails with "requested cpu amount exceeds maximum". On QEMU under TCG a live
    /// unplug can fail with `isOperationTimeout`.
    public func setVcpuCount(_ count: Int, scope: VcpuScope = []) throws(LibvirtError) {
        guard let count = UInt32(exactly: count) else {
            throw LibvirtError.invalidArgument("vCPU count \(count) is out of range", call: "virDomainSetVcpusFlags")
        }
        try check(virDomainSetVcpusFlags(handle, count, scope.rawValue), "virDomainSetVcpusFlags")
    }

    /// Pins vCPU `vcpu` of the running guest to these host CPUs (`virDomainPinVcpu`, its hard affinity); the map
    /// covers `hostCPUs` CPUs (virNodeGetInfo's count).
    public func pinVcpu(_ vcpu: Int, to cpus: Set<Int>, hostCPUs: Int) throws(LibvirtError) {
        guard let number = UInt32(exactly: vcpu), hostCPUs > 0, !cpus.isEmpty,
            cpus.allSatisfy({ (0..<hostCPUs).contains($0) })
        else {
            throw LibvirtError.invalidArgument(
                "vCPU \(vcpu) cannot be pinned to CPUs \(cpus.sorted()) of a host with \(hostCPUs)",
                call: "virDomainPinVcpu"
            )
        }
        var map = [UInt8](repeating: 0, count: (hostCPUs + 7) / 8)
        for cpu in cpus { map[cpu / 8] |= 1 << UInt8(cpu % 8) }
        let result = map.withUnsafeMutableBufferPointer {
            virDomainPinVcpu(handle, number, $0.baseAddress, Int32($0.count))
        }
        try check(result, "virDomainPinVcpu")
    }

    /// The hard affinity of each of the running guest's first `vcpus` vCPUs (`virDomainGetVcpuPinInfo`, live): the
    /// host CPUs, below `hostCPUs`, each may run on; one entry per vCPU libvirt reports.
    public func vcpuPinning(vcpus: Int, hostCPUs: Int) throws(LibvirtError) -> [Set<Int>] {
        guard vcpus > 0, hostCPUs > 0 else { return [] }
        let mapLength = (hostCPUs + 7) / 8
        var maps = [UInt8](repeating: 0, count: vcpus * mapLength)
        let result = maps.withUnsafeMutableBufferPointer {
            virDomainGetVcpuPinInfo(
                handle,
                Int32(vcpus),
                $0.baseAddress,
                Int32(mapLength),
                VIR_DOMAIN_AFFECT_LIVE.rawValue
            )
        }
        let filled = Int(try check(result, "virDomainGetVcpuPinInfo"))
        return (0..<min(filled, vcpus))
            .map { vcpu in
                Set((0..<hostCPUs).filter { cpu in maps[vcpu * mapLength + cpu / 8] & (1 << UInt8(cpu % 8)) != 0 })
            }
    }

    /// Sets the domain's current memory (the balloon target) in KiB; neither `live` nor `config` means the
    /// current state.
    public func setMemory(kiB: UInt64, live: Bool = true, config: Bool = false) throws(LibvirtError) {
        guard let kiB = UInt(exactly: kiB) else {
            throw LibvirtError.invalidArgument("memory \(kiB) KiB is out of range", call: "virDomainSetMemoryFlags")
        }
        try check(
            virDomainSetMemoryFlags(handle, kiB, affectFlags(live: live, config: config)),
            "virDomainSetMemoryFlags"
        )
    }

    // MARK: Devices

    /// Attaches a device described by its XML (`<interface>`, `<disk>`, `<hostdev>`, ...).
    ///
    /// `live` changes the running guest, `config` the persistent definition; neither means the current state.
    public func attachDevice(xml: String, live: Bool = true, config: Bool = false) throws(LibvirtError) {
        try check(
            virDomainAttachDeviceFlags(handle, xml, affectFlags(live: live, config: config)),
            "virDomainAttachDeviceFlags"
        )
    }

    /// Detaches the device the XML identifies; returns once the guest was asked, which may be before it let go.
    ///
    /// `live` changes the running guest, `config` the persistent definition; neither means the current state.
    public func detachDevice(xml: String, live: Bool = true, config: Bool = false) throws(LibvirtError) {
        try check(
            virDomainDetachDeviceFlags(handle, xml, affectFlags(live: live, config: config)),
            "virDomainDetachDeviceFlags"
        )
    }

    /// Changes a device the XML identifies in place: for a CD-ROM drive, its medium (a `<source>`, or none to eject).
    ///
    /// `live` changes the running guest, `config` the persistent definition; neither means the current state.
    public func updateDevice(xml: String, live: Bool = true, config: Bool = false) throws(LibvirtError) {
        try check(
            virDomainUpdateDeviceFlags(handle, xml, affectFlags(live: live, config: config)),
            "virDomainUpdateDeviceFlags"
        )
    }

    // MARK: Console

    /// Opens the domain's console (or the console, serial or parallel device aliased `device`) as a stream.
    ///
    /// `force` takes the console from another client that holds it. `nonBlocking` gives a stream whose output
    /// arrives through `incoming()` instead of blocking `receive()` calls. The test driver has no consoles.
    public func openConsole(device: String? = nil, force: Bool = false, nonBlocking: Bool = false) throws(LibvirtError)
        -> LibvirtStream
    {
        let flags = force ? VIR_DOMAIN_CONSOLE_FORCE.rawValue : 0
        return try attachStream("virDomainOpenConsole", nonBlocking: nonBlocking) { stream in
            virDomainOpenConsole(handle, device, stream, flags) >= 0
        }
    }

    /// Takes a screenshot of display `screen`: the image's MIME type, and a stream to read the image from.
    ///
    /// Useful as evidence when a guest test fails. Read the stream to its end, then `finish()` it.
    public func screenshot(screen: Int = 0) throws(LibvirtError) -> (mimeType: String, image: LibvirtStream) {
        guard let screen = UInt32(exactly: screen) else {
            throw LibvirtError.invalidArgument("screen \(screen) is out of range", call: "virDomainScreenshot")
        }
        var mimeType: UnsafeMutablePointer<CChar>?
        let image = try attachStream("virDomainScreenshot") { stream in
            mimeType = virDomainScreenshot(handle, stream, screen, 0)
            return mimeType != nil
        }
        defer { free(mimeType) }
        return (mimeType.map { String(cString: $0) } ?? "", image)
    }

    /// Creates a blocking stream on the domain's connection and lets `attach` connect it to a domain resource;
    /// `attach` returns false on failure, leaving the libvirt error for this function to read.
    private func attachStream(_ call: String, nonBlocking: Bool = false, _ attach: (OpaquePointer) -> Bool)
        throws(LibvirtError) -> LibvirtStream
    {
        // Borrowed: the domain holds the connection's reference, so there is nothing to release.
        let connection = try check(virDomainGetConnect(handle), "virDomainGetConnect")
        let flags = nonBlocking ? VIR_STREAM_NONBLOCK.rawValue : 0
        let stream = try check(virStreamNew(connection, flags), "virStreamNew")
        guard attach(stream) else {
            let error = LibvirtError.last(call: call)
            // Never attached to a driver, so there is nothing to abort.
            virStreamFree(stream)
            throw error
        }
        return LibvirtStream(takingOwnershipOf: stream, nonBlocking: nonBlocking)
    }
}

/// The name of a domain pointer, owned or lent; a cached string in the C object, not ours to free.
func domainName(_ domain: OpaquePointer) -> String { virDomainGetName(domain).map { String(cString: $0) } ?? "" }

/// The UUID of a domain pointer, owned or lent; fails only for an invalid pointer, which yields "".
func domainUUIDString(_ domain: OpaquePointer) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(VIR_UUID_STRING_BUFLEN)) { buffer in
        virDomainGetUUIDString(domain, buffer.baseAddress) == 0 ? String(cString: buffer.baseAddress!) : ""
    }
}

private func affectFlags(live: Bool, config: Bool) -> UInt32 {
    (live ? VIR_DOMAIN_AFFECT_LIVE.rawValue : 0) | (config ? VIR_DOMAIN_AFFECT_CONFIG.rawValue : 0)
}

/// Which vCPU count `vcpuCount` reads and `setVcpuCount` changes; empty means the domain's current state.
public struct VcpuScope: OptionSet, Sendable, Hashable {
    /// libvirt's `virDomainVcpuFlags` bits.
    public let rawValue: UInt32

    /// Creates a scope from libvirt's `virDomainVcpuFlags` bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The running guest (`VIR_DOMAIN_AFFECT_LIVE`).
    public static let live = VcpuScope(rawValue: VIR_DOMAIN_AFFECT_LIVE.rawValue)
    /// The persistent definition (`VIR_DOMAIN_AFFECT_CONFIG`).
    public static let config = VcpuScope(rawValue: VIR_DOMAIN_AFFECT_CONFIG.rawValue)
    /// The maximum rather than the current count (`VIR_DOMAIN_VCPU_MAXIMUM`).
    public static let maximum = VcpuScope(rawValue: VIR_DOMAIN_VCPU_MAXIMUM.rawValue)
    /// The count the guest agent sees in the guest OS (`VIR_DOMAIN_VCPU_GUEST`).
    public static let guest = VcpuScope(rawValue: VIR_DOMAIN_VCPU_GUEST.rawValue)
}

/// A domain's run state (`virDomainState`).
public enum DomainState: Int32, Sendable, Hashable, CustomStringConvertible {
    case noState = 0
    case running = 1
    /// Running but waiting on a resource; `virsh` calls it "idle".
    case blocked = 2
    case paused = 3
    /// Shutting down.
    case shutdown = 4
    case shutoff = 5
    case crashed = 6
    /// Suspended by guest power management (ACPI S3/S4).
    case pmSuspended = 7

    init(libvirtValue: Int32) {
        // A state newer than this library is reported as "no state" rather than guessed.
        self = DomainState(rawValue: libvirtValue) ?? .noState
    }

    /// The words `virsh domstate` uses, e.g. "shut off".
    public var description: String {
        switch self {
        case .noState: "no state"
        case .running: "running"
        case .blocked: "idle"
        case .paused: "paused"
        case .shutdown: "in shutdown"
        case .shutoff: "shut off"
        case .crashed: "crashed"
        case .pmSuspended: "pmsuspended"
        }
    }
}

/// A domain's state and resources at one moment (virDomainGetInfo).
public struct DomainInfo: Sendable, Hashable {
    /// The run state.
    public var state: DomainState
    /// The most memory the domain may have, in KiB.
    public var maxMemoryKiB: UInt64
    /// The memory the domain has now, in KiB.
    public var memoryKiB: UInt64
    /// The current vCPU count.
    public var vcpus: Int
    /// CPU time used, summed over vCPUs.
    public var cpuTimeNanoseconds: UInt64

    /// Creates domain facts from their parts.
    public init(state: DomainState, maxMemoryKiB: UInt64, memoryKiB: UInt64, vcpus: Int, cpuTimeNanoseconds: UInt64) {
        self.state = state
        self.maxMemoryKiB = maxMemoryKiB
        self.memoryKiB = memoryKiB
        self.vcpus = vcpus
        self.cpuTimeNanoseconds = cpuTimeNanoseconds
    }
}
