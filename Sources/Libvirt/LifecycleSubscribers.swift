import CLibvirt
import Synchronization

/// The lifecycle streams open on one connection, all fed by the connection's one libvirt registration.
///
/// libvirt refuses a second `virConnectDomainEventRegisterAny` for the same callback on the same connection while
/// the first is registered ("event callback already tracked"), so streams share one registration: it is made with
/// the first stream and lasts until the connection closes. A stream that ends only leaves this list.
final class LifecycleSubscribers: Sendable {
    private struct State: Sendable {
        var streams: [UInt64: AsyncStream<DomainLifecycleEvent>.Continuation] = [:]
        var nextToken: UInt64 = 0
        /// Set once the registration has ended (the connection closed, or the daemon went): no stream is fed again.
        var ended = false
    }

    private let state = Mutex(State())

    /// Adds a stream; false, adding nothing, once the registration has ended.
    func add(_ continuation: AsyncStream<DomainLifecycleEvent>.Continuation) -> Bool {
        let token = state.withLock { state -> UInt64? in
            guard !state.ended else { return nil }
            defer { state.nextToken += 1 }
            state.streams[state.nextToken] = continuation
            return state.nextToken
        }
        guard let token else { return false }
        // Set after adding: a stream ended before this line has already been taken out by endAll().
        continuation.onTermination = { [self] _ in state.withLock { _ = $0.streams.removeValue(forKey: token) } }
        return true
    }

    /// The number of streams being fed.
    var count: Int { state.withLock { $0.streams.count } }

    /// Hands `event` to every stream, outside the lock.
    func deliver(_ event: DomainLifecycleEvent) {
        for stream in state.withLock({ Array($0.streams.values) }) { stream.yield(event) }
    }

    /// Ends every stream, and any added later at once: the registration is gone.
    func endAll() {
        let streams = state.withLock { state in
            state.ended = true
            defer { state.streams = [:] }
            return Array(state.streams.values)
        }
        // Outside the lock: finishing runs each stream's termination handler, which takes it.
        for stream in streams { stream.finish() }
    }
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
    let subscribers = Unmanaged<LifecycleSubscribers>.fromOpaque(opaque).takeUnretainedValue()
    // The domain is lent for the duration of the callback: read, do not free.
    subscribers.deliver(
        DomainLifecycleEvent(
            domainName: domainName(domain),
            domainUUID: domainUUIDString(domain),
            kind: kind,
            detail: detail
        )
    )
    return 0
}

/// libvirt's free callback for the registration: drops the reference handed over at registration and ends every
/// stream, as the registration ends only with the connection.
func releaseLifecycleSubscribers(_ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    Unmanaged<LifecycleSubscribers>.fromOpaque(opaque).takeRetainedValue().endAll()
}
