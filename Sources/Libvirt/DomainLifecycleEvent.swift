import CLibvirt

/// A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`): a domain was defined, started, stopped, ...
public struct DomainLifecycleEvent: Sendable, Hashable {
    /// What happened to the domain (`virDomainEventType`).
    public enum Kind: Int32, Sendable, Hashable {
        case defined = 0
        case undefined = 1
        case started = 2
        case suspended = 3
        case resumed = 4
        case stopped = 5
        case shutdown = 6
        case pmSuspended = 7
        case crashed = 8
    }

    /// The domain's name.
    public var domainName: String
    /// The domain's UUID, which stays the same when a domain is undefined and defined again under its name.
    public var domainUUID: String
    /// What happened.
    public var kind: Kind
    /// libvirt's reason, whose meaning depends on `kind`, e.g. for `.stopped` 1 is
    /// `VIR_DOMAIN_EVENT_STOPPED_DESTROYED` and 5 is `VIR_DOMAIN_EVENT_STOPPED_FAILED`.
    public var detail: Int32

    /// Creates an event from its parts.
    public init(domainName: String, domainUUID: String, kind: Kind, detail: Int32) {
        self.domainName = domainName
        self.domainUUID = domainUUID
        self.kind = kind
        self.detail = detail
    }
}

/// What libvirt's opaque pointer refers to for one lifecycle registration: the stream to feed.
final class DomainEventSink: Sendable {
    let continuation: AsyncStream<DomainLifecycleEvent>.Continuation

    init(_ continuation: AsyncStream<DomainLifecycleEvent>.Continuation) { self.continuation = continuation }
}

// The C callbacks are global functions so they carry no context or actor isolation: libvirt calls them on the
// event loop thread.

/// Registered through virConnectDomainEventGenericCallback, the type virConnectDomainEventRegisterAny takes.
let domainLifecycleCallback = unsafeBitCast(
    receiveDomainLifecycleEvent
        as @convention(c) (OpaquePointer?, OpaquePointer?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32,
    to: virConnectDomainEventGenericCallback.self
)

private func receiveDomainLifecycleEvent(
    _ connection: OpaquePointer?,
    _ domain: OpaquePointer?,
    _ event: Int32,
    _ detail: Int32,
    _ opaque: UnsafeMutableRawPointer?
) -> Int32 {
    guard let domain, let opaque else { return 0 }
    // A kind newer than this library has no case to report it as; it is dropped.
    guard let kind = DomainLifecycleEvent.Kind(rawValue: event) else { return 0 }
    let sink = Unmanaged<DomainEventSink>.fromOpaque(opaque).takeUnretainedValue()
    // The domain is lent for the duration of the callback: read, do not free.
    let event = DomainLifecycleEvent(
        domainName: domainName(domain),
        domainUUID: domainUUIDString(domain),
        kind: kind,
        detail: detail
    )
    sink.continuation.yield(event)
    return 0
}

/// libvirt's free callback for a registration: drops the reference handed over at registration, ending the
/// stream when the registration ends for a reason other than the consumer leaving (e.g. `close()`).
func releaseDomainEventSink(_ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    let sink = Unmanaged<DomainEventSink>.fromOpaque(opaque).takeRetainedValue()
    sink.continuation.finish()
}
