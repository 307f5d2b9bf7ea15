import CLibvirt

/// A failed libvirt call: libvirt's own error code, domain and message, plus the C function that failed.
///
/// `code` and `domain` are libvirt's `virErrorNumber` and `virErrorDomain` values.
public struct LibvirtError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libvirt's `virErrorNumber`, e.g. 42 for `VIR_ERR_NO_DOMAIN`.
    public var code: Int32
    /// libvirt's `virErrorDomain`: the subsystem that raised the error.
    public var domain: Int32
    /// libvirt's formatted message, e.g. "invalid argument: requested cpu amount exceeds maximum (8 > 4)".
    public var message: String
    /// The C function that failed, e.g. "virDomainCreate".
    public var call: String

    /// Creates an error from its parts; libvirt errors are normally made by this module, tests may make their own.
    public init(code: Int32, domain: Int32, message: String, call: String) {
        self.code = code
        self.domain = domain
        self.message = message
        self.call = call
    }

    /// The failed call and libvirt's message, e.g. "virDomainCreate failed: ...".
    public var description: String { "\(call) failed: \(message)" }

    /// The driver does not implement the call, or rejects its arguments as unsupported.
    ///
    /// Covers `VIR_ERR_NO_SUPPORT`, `VIR_ERR_ARGUMENT_UNSUPPORTED` and `VIR_ERR_OPERATION_UNSUPPORTED`.
    public var isNotSupported: Bool {
        has(VIR_ERR_NO_SUPPORT) || has(VIR_ERR_ARGUMENT_UNSUPPORTED) || has(VIR_ERR_OPERATION_UNSUPPORTED)
    }

    /// No such domain (`VIR_ERR_NO_DOMAIN`).
    public var isNoDomain: Bool { has(VIR_ERR_NO_DOMAIN) }

    /// No such network (`VIR_ERR_NO_NETWORK`).
    public var isNoNetwork: Bool { has(VIR_ERR_NO_NETWORK) }

    /// No such node device (`VIR_ERR_NO_NODE_DEVICE`).
    public var isNoNodeDevice: Bool { has(VIR_ERR_NO_NODE_DEVICE) }

    /// The hypervisor did not answer in time (`VIR_ERR_OPERATION_TIMEOUT`), e.g. a QEMU vCPU unplug.
    public var isOperationTimeout: Bool { has(VIR_ERR_OPERATION_TIMEOUT) }

    /// The call does not apply in the object's current state (`VIR_ERR_OPERATION_INVALID`),
    /// e.g. destroying a domain that is not running.
    public var isOperationInvalid: Bool { has(VIR_ERR_OPERATION_INVALID) }

    /// An argument was rejected (`VIR_ERR_INVALID_ARG`), including flags a driver does not accept.
    public var isInvalidArgument: Bool { has(VIR_ERR_INVALID_ARG) }

    /// The connection is closed or unusable (`VIR_ERR_INVALID_CONN`).
    public var isInvalidConnection: Bool { has(VIR_ERR_INVALID_CONN) }

    private func has(_ number: virErrorNumber) -> Bool { code == Int32(bitPattern: number.rawValue) }
}

extension LibvirtError {
    /// Reads this thread's last libvirt error.
    ///
    /// libvirt keeps the last error per thread, so this must run synchronously right after the failing call,
    /// on the same thread: never with an `await` in between.
    static func last(call: String) -> LibvirtError {
        guard let error = virGetLastError() else {
            // A few calls report failure through their return value without setting an error.
            return LibvirtError(
                code: Int32(bitPattern: VIR_ERR_INTERNAL_ERROR.rawValue),
                domain: Int32(bitPattern: VIR_FROM_NONE.rawValue),
                message: "\(call) failed without a libvirt error",
                call: call
            )
        }
        let message = error.pointee.message.map { String(cString: $0) } ?? "unknown libvirt error"
        return LibvirtError(code: error.pointee.code, domain: error.pointee.domain, message: message, call: call)
    }

    /// An argument this library rejects before calling libvirt, reported the way libvirt reports its own.
    static func invalidArgument(_ message: String, call: String) -> LibvirtError {
        LibvirtError(
            code: Int32(bitPattern: VIR_ERR_INVALID_ARG.rawValue),
            domain: Int32(bitPattern: VIR_FROM_NONE.rawValue),
            message: "invalid argument: \(message)",
            call: call
        )
    }

    /// A wait this library puts around a libvirt call ran out, reported as libvirt reports its own timeouts.
    static func timedOut(_ message: String, call: String) -> LibvirtError {
        LibvirtError(
            code: Int32(bitPattern: VIR_ERR_OPERATION_TIMEOUT.rawValue),
            domain: Int32(bitPattern: VIR_FROM_NONE.rawValue),
            message: "Timed out during operation: \(message)",
            call: call
        )
    }

    /// The error for a call made on a connection that `close()` already closed.
    static func closedConnection(call: String) -> LibvirtError {
        LibvirtError(
            code: Int32(bitPattern: VIR_ERR_INVALID_CONN.rawValue),
            domain: Int32(bitPattern: VIR_FROM_NONE.rawValue),
            message: "the connection is closed",
            call: call
        )
    }
}

// Every C call goes through one of these, so the error is read at the call site, synchronously.

/// Returns `result`, or throws the thread's last libvirt error when it is negative.
@discardableResult func check(_ result: Int32, _ call: String) throws(LibvirtError) -> Int32 {
    guard result >= 0 else { throw LibvirtError.last(call: call) }
    return result
}

/// Returns `pointer`, or throws the thread's last libvirt error when it is NULL.
func check<Pointee>(_ pointer: Pointee?, _ call: String) throws(LibvirtError) -> Pointee {
    guard let pointer else { throw LibvirtError.last(call: call) }
    return pointer
}

/// Copies and frees a `char *` that libvirt handed over to the caller (GetXMLDesc, GetURI, ...).
func takeString(_ pointer: UnsafeMutablePointer<CChar>?, _ call: String) throws(LibvirtError) -> String {
    let pointer = try check(pointer, call)
    defer { free(pointer) }
    return String(cString: pointer)
}

/// Reads a 1/0/-1 libvirt predicate such as virDomainIsActive.
func checkBool(_ result: Int32, _ call: String) throws(LibvirtError) -> Bool { try check(result, call) != 0 }
