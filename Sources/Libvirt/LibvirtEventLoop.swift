import CLibvirt
import Foundation

/// libvirt's default event loop, run on one dedicated thread for the whole process.
///
/// Event callbacks (domain lifecycle events, stream and keepalive timers of remote connections) only run while
/// this loop runs. `LibvirtConnection.init` starts it, so callers never need to.
public enum LibvirtEventLoop {
    /// Prepares libvirt once per process: silences its stderr printer, registers and starts the event loop.
    ///
    /// Idempotent and thread-safe: it evaluates a `static let`, which Swift initializes exactly once.
    public static func start() { _ = started }

    private static let started: Void = {
        // Errors are reported as thrown `LibvirtError`s; libvirt's default handler would also print them.
        virSetErrorFunc(nil, ignoreLibvirtError)
        // Must precede the first virConnectOpen: connections pick up the event implementation when opened.
        if virEventRegisterDefaultImpl() < 0 {
            // Without an event loop every call still works; only event delivery is lost, and registering a
            // callback then fails with its own error.
            return
        }
        let thread = Thread {
            // Runs for the life of the process: libvirt has no way to unregister the default implementation.
            // An iteration fails only if poll() does; the next one simply tries again.
            while true { _ = virEventRunDefaultImpl() }
        }
        thread.name = "libvirt-events"
        thread.start()
    }()
}

/// The process-wide libvirt error handler: a no-op, because every failure is captured and thrown instead.
private func ignoreLibvirtError(_ userData: UnsafeMutableRawPointer?, _ error: virErrorPtr?) {}
