import CLibvirt
import Synchronization

/// A blocking libvirt data stream (`virStreamPtr`), such as a domain console from `openConsole()`.
///
/// `send` and `receive` block the calling thread until data moves: run them on a dedicated thread, not on the
/// Swift concurrency pool. End the stream with `finish()` or `abort()`; `deinit` aborts one left open.
public final class LibvirtStream: @unchecked Sendable {
    // @unchecked Sendable: libvirt locks its stream objects internally (the remote client stream locks every API),
    // so one thread may receive while another sends; the Swift-side open flag is guarded by a Mutex.
    let handle: OpaquePointer
    private let isOpen = Mutex(true)

    /// Wraps a `virStreamPtr` that a driver has opened; `deinit` releases it with virStreamFree.
    init(takingOwnershipOf handle: OpaquePointer) { self.handle = handle }

    deinit {
        // libvirt requires an opened stream to be finished or aborted before it is freed.
        if isOpen.withLock({ $0 }) { virStreamAbort(handle) }
        virStreamFree(handle)
    }

    /// Sends all of `bytes`, blocking until libvirt has taken them.
    public func send(_ bytes: [UInt8]) throws(LibvirtError) {
        // withUnsafeBytes rethrows untyped errors, so the failure comes out as a value.
        let failure = bytes.withUnsafeBytes { buffer -> LibvirtError? in
            var offset = 0
            // virStreamSend may take only part of the buffer.
            while offset < buffer.count {
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                let sent = virStreamSend(handle, chunk.baseAddress!.assumingMemoryBound(to: CChar.self), chunk.count)
                guard sent >= 0 else { return LibvirtError.last(call: "virStreamSend") }
                offset += Int(sent)
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Receives up to `max` bytes, blocking until some arrive; nil at the end of the stream.
    public func receive(max: Int = 64 * 1024) throws(LibvirtError) -> [UInt8]? {
        precondition(max > 0, "receive(max:) needs room for at least one byte")
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

    /// Ends the stream cleanly, reporting any error the other end saw.
    public func finish() throws(LibvirtError) {
        isOpen.withLock { $0 = false }
        try check(virStreamFinish(handle), "virStreamFinish")
    }

    /// Ends the stream at once, dropping data in flight.
    public func abort() throws(LibvirtError) {
        isOpen.withLock { $0 = false }
        try check(virStreamAbort(handle), "virStreamAbort")
    }
}
