import XentestBackendLibvirt
import XentestBackendXL
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

/// Which toolstack and host a command works on, as the command line names them.
public struct BackendSelection: Sendable {
    /// `--backend`; nil: xl on a Xen host.
    public var kind: BackendKind?
    /// `--connect`: a libvirt URI (implies libvirt).
    public var connect: String?
    /// `--host` (or the lab's dom0): where xl runs its commands, and where libvirt's backend on a remote URI reads
    /// what libvirt does not report and pings from.
    public var hostShell: (any CommandRunner)?

    /// A selection; with nothing named, xl on this Xen host.
    public init(kind: BackendKind? = nil, connect: String? = nil, hostShell: (any CommandRunner)? = nil) {
        self.kind = kind
        self.connect = connect
        self.hostShell = hostShell
    }

    /// Closes what the host's shell keeps open (a shared SSH connection): when the command is done with the host.
    public func close() async { await hostShell?.close() }
}

/// There is no Xen hypervisor on this machine and the selection named no other host or URI; the caller says what
/// to do instead, in the words of its own command.
public struct NoXenHost: Error, CustomStringConvertible {
    /// Whether libvirt (`--backend libvirt` without `--connect`) was asked for.
    public var libvirtAsked: Bool

    /// That there is no Xen hypervisor here: for libvirt's `xen:///system`, or for xl.
    public var description: String {
        libvirtAsked
            ? "no Xen hypervisor here for libvirt's xen:///system" : "no Xen host detected (no /proc/xen/capabilities)"
    }
}

/// Makes the backend a selection names: xl where Xen is (in dom0, or over SSH), libvirt when a URI is named.
public enum BackendFactory {
    /// The backend; throws `NoXenHost` or `BackendUnavailable` (a URI libvirt cannot open).
    public static func make(_ selection: BackendSelection) throws -> any Backend {
        if let uri = selection.connect { return try LibvirtBackend(uri: uri, hostShell: selection.hostShell) }
        switch selection.kind {
        case .libvirt:
            guard XenHost.isPresent else { throw NoXenHost(libvirtAsked: true) }
            return try LibvirtBackend(uri: "xen:///system")
        case .xl, nil:
            if let runner = selection.hostShell { return XLBackend(runner: runner) }
            guard XenHost.isPresent else { throw NoXenHost(libvirtAsked: false) }
            return XLBackend(runner: LocalCommandRunner(), readsLibxl: true)
        }
    }
}
