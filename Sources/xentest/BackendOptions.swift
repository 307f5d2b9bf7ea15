import ArgumentParser
import XentestBackends
import XentestPlan
import XentestSupport

/// Which host and toolstack a command works on (`xentest run`, `xentest facts`): xl here or over SSH, or a libvirt
/// URI, and the host file.
struct BackendOptions: ParsableArguments {
    @Option(help: "The toolstack: xl or libvirt. Default: xl on a Xen host.") var backend: BackendKind?

    @Option(help: "A libvirt URI (implies --backend libvirt): xen:///system, qemu:///system, test:///default.")
    var connect: String?

    @Option(
        help: ArgumentHelp(
            "Run xl on this Xen host over SSH: ssh://[USER@]HOST[:PORT] (a key, no password; what the URL leaves out, "
                + "your ~/.ssh/config says, so ssh://ALIAS works).",
            discussion: "With --connect to a remote libvirt URI, the same host's shell reads what libvirt does not "
                + "report (bridges, kernel, Xen's IOMMU) and pings the guests."
        )
    ) var host: String?

    @Option(
        name: .customLong("host-config"),
        help: "The host file: PCI devices by role, bridge, test guest.",
        completion: Completions.hostFile
    ) var hostConfig: String?

    func validate() throws {
        if backend == .xl, connect != nil {
            throw ValidationError("--connect names a libvirt URI; it cannot be used with --backend xl")
        }
        if let host {
            guard SSHCommandRunner(url: host) != nil else {
                throw ValidationError("--host '\(host)' must be ssh://[USER@]HOST[:PORT]")
            }
            if connect == nil && backend == .libvirt {
                throw ValidationError(
                    "--host with --backend libvirt needs the remote libvirt URI: --connect xen+ssh://HOST/system"
                )
            }
        }
    }

    /// The backend these options name; commands over SSH share one connection, which `BackendSelection.close()`
    /// ends (without a private folder for its socket, each command connects on its own).
    func selection() -> BackendSelection {
        let shell = host.flatMap { SSHCommandRunner(url: $0, sharing: try? SSHConnectionSharing()) }
        return BackendSelection(kind: backend, connect: connect, hostShell: shell)
    }
}

extension BackendKind: ExpressibleByArgument {}
