import CLibvirt
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A libvirt data stream (`virStreamPtr`), such as a domain console from `openConsole()`.
///
/// A blocking stream (the default): `send` and `receive` block the calling thread until data moves, so run them on
/// a dedicated thread, not on the Swift concurrency pool. A non-blocking stream (`openConsole(nonBlocking: true)`)
/// delivers what arrives through `incoming()`, from libvirt's event loop, and never blocks a thread to wait. End the
/// stream with `finish()` or `abort()`; `deinit` aborts one left open.
public final class LibvirtStream: @unchecked Sendable {
    // @unchecked Sendable: libvirt locks its stream objects internally (the remote client stream locks every API),
    // so one thread may receive while another sends; the Swift-side state is guarded by a Mutex.
    let handle: OpaquePointer
    /// Whether the stream was created with `VIR_STREAM_NONBLOCK`.
    public let isNonBlocking: Bool
    private let state = Mutex(State())

    private struct State {
        var isOpen = true
        /// An event callback (`incoming()`) is registered with libvirt.
        var receiving = false
    }

    /// Wraps a `virStreamPtr` that a driver has opened; `deinit` releases it with virStreamFree.
    init(takingOwnershipOf handle: OpaquePointer, nonBlocking: Bool = false) {
        self.handle = handle
        isNonBlocking = nonBlocking
    }

    deinit {
        stopReceiving()
        // libvirt requires an opened stream to be finished or aborted before it is freed.
        if state.withLock({ $0.isOpen }) { virStreamAbort(handle) }
        virStreamFree(handle)
    }

    /// Sends all of `bytes`, blocking until libvirt has taken them.
    ///
    /// On a non-blocking stream whose buffer is full this waits in short sleeps, at most `wouldBlockLimit` in all.
    public func send(_ bytes: [UInt8], wouldBlockLimit: Duration = .seconds(10)) throws(LibvirtError) {
        let patience = Int(wouldBlockLimit / .milliseconds(10))
        // withUnsafeBytes rethrows untyped errors, so the failure comes out as a value.
        let failure = bytes.withUnsafeBytes { buffer -> LibvirtError? in
            var offset = 0
            var waits = 0
            // virStreamSend may take only part of the buffer.
            while offset < buffer.count {
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                let sent = virStreamSend(handle, chunk.baseAddress!.assumingMemoryBound(to: CChar.self), chunk.count)
                if sent == -2 {
                    // Non-blocking and full: the daemon has not taken the last bytes yet.
                    waits += 1
                    guard waits <= patience else {
                        return LibvirtError.timedOut(
                            "the stream took no data for \(wouldBlockLimit)",
                            call: "virStreamSend"
                        )
                    }
                    usleep(10_000)
                    continue
                }
                guard sent >= 0 else { return LibvirtError.last(call: "virStreamSend") }
                offset += Int(sent)
                waits = 0
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Receives up to `max` bytes from a blocking stream, blocking until some arrive; nil at the end of the stream.
    public func receive(max: Int = 64 * 1024) throws(LibvirtError) -> [UInt8]? {
        precondition(max > 0, "receive(max:) needs room for at least one byte")
        precondition(!isNonBlocking, "a non-blocking stream delivers its data through incoming()")
        var failure: LibvirtError?
        let bytes = [UInt8](unsafeUninitializedCapacity: max) { buffer, count in
            let data = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let received = virStreamRecv(handle, data, max)
            if received < 0 { failure = LibvirtError.last(call: "virStreamRecv") }
            count = Swift.max(Int(received), 0)
        }
        if let failure { throw failure }
        return bytes.isEmpty ? nil : bytes
    }

    /// The bytes of a non-blocking stream as they arrive, read on libvirt's event loop thread.
    ///
    /// The sequence ends at the end of the stream, throws the `LibvirtError` of a failed read, and ends when the
    /// stream is finished, aborted or freed. Ending the iteration (or cancelling the task that iterates) stops the
    /// reading; a stream has one such sequence at a time.
    public func incoming() throws(LibvirtError) -> AsyncThrowingStream<[UInt8], any Error> {
        precondition(isNonBlocking, "incoming() needs a stream opened non-blocking")
        let (bytes, continuation) = AsyncThrowingStream.makeStream(of: [UInt8].self, throwing: (any Error).self)
        let sink = Unmanaged.passRetained(StreamSink(continuation)).toOpaque()
        let events =
            VIR_STREAM_EVENT_READABLE.rawValue | VIR_STREAM_EVENT_ERROR.rawValue | VIR_STREAM_EVENT_HANGUP.rawValue
        do {
            try state.withLock { (state) throws(LibvirtError) in
                guard state.isOpen, !state.receiving else {
                    throw LibvirtError.invalidArgument(
                        "the stream is closed or already read",
                        call: "virStreamEventAddCallback"
                    )
                }
                try check(
                    virStreamEventAddCallback(handle, Int32(events), receiveStreamEvent, sink, releaseStreamSink),
                    "virStreamEventAddCallback"
                )
                state.receiving = true
            }
        } catch {
            // libvirt calls the free callback only for a registration that succeeded.
            Unmanaged<StreamSink>.fromOpaque(sink).release()
            throw error
        }
        continuation.onTermination = { [weak self] _ in self?.stopReceiving() }
        return bytes
    }

    /// Removes the event callback of `incoming()`, which ends its sequence; harmless when there is none.
    private func stopReceiving() {
        let registered = state.withLock { state in
            defer { state.receiving = false }
            return state.receiving
        }
        // The callback may have removed itself at the end of the stream; a second removal only fails.
        if registered { virStreamEventRemoveCallback(handle) }
    }

    /// Ends the stream cleanly, reporting any error the other end saw.
    public func finish() throws(LibvirtError) {
        stopReceiving()
        state.withLock { $0.isOpen = false }
        try check(virStreamFinish(handle), "virStreamFinish")
    }

    /// Ends the stream at once, dropping data in flight.
    public func abort() throws(LibvirtError) {
        stopReceiving()
        state.withLock { $0.isOpen = false }
        try check(virStreamAbort(handle), "virStreamAbort")
    }
}

/// What libvirt's opaque pointer refers to for one `incoming()` registration: the sequence to feed.
final class StreamSink: Sendable {
    let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    /// Set once the sequence has ended, so events that still arrive are ignored.
    let ended = Mutex(false)

    init(_ continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation) { self.continuation = continuation }

    /// Ends the sequence once: normally, or with `error`.
    func end(_ error: LibvirtError?) {
        guard
            ended.withLock({ ended in
                defer { ended = true }
                return !ended
            })
        else { return }
        continuation.finish(throwing: error)
    }
}

// The C callbacks are global functions so they carry no context or actor isolation: libvirt calls them on the
// event loop thread.

/// Drains a readable stream without blocking: every chunk to the sequence, until libvirt has nothing more (-2).
private func receiveStreamEvent(_ stream: OpaquePointer?, _ events: Int32, _ opaque: UnsafeMutableRawPointer?) {
    guard let stream, let opaque else { return }
    let sink = Unmanaged<StreamSink>.fromOpaque(opaque).takeUnretainedValue()
    if sink.ended.withLock({ $0 }) { return }
    let capacity = 64 * 1024
    var buffer = [UInt8](repeating: 0, count: capacity)
    while true {
        let received = buffer.withUnsafeMutableBytes { raw in
            virStreamRecv(stream, raw.baseAddress!.assumingMemoryBound(to: CChar.self), capacity)
        }
        if received > 0 {
            sink.continuation.yield(Array(buffer[0..<Int(received)]))
            continue
        }
        if received == -2 { return }  // nothing more for now
        // The end of the stream (0) or a failure (-1): stop listening, or a hung-up stream would call back forever.
        let error = received < 0 ? LibvirtError.last(call: "virStreamRecv") : nil
        virStreamEventRemoveCallback(stream)
        sink.end(error)
        return
    }
}

/// libvirt's free callback for a registration: drops the reference handed over at registration and ends the
/// sequence, whoever removed the callback.
private func releaseStreamSink(_ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    let sink = Unmanaged<StreamSink>.fromOpaque(opaque).takeRetainedValue()
    sink.end(nil)
}
