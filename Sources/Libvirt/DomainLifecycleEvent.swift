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
