import Foundation
import Synchronization

/// One SSH connection per host for a whole command: OpenSSH's connection multiplexing (`ControlMaster`), with its
/// control sockets in a private folder this object makes and `close()` removes, and on it shells kept open that
/// carry the commands (`sessions`).
///
/// Without it every command over SSH opens a connection of its own (key exchange, authentication, a new session):
/// 0.45 to 0.7 s a command on the lab, most of a small command's time. With it, the first ssh becomes the master and
/// stays in the background; each later ssh is a new session on that connection, and a session's shell runs command
/// after command (a line written to it, not a new ssh, SSH session and login shell each). A master that dies (a
/// rebooted host) is replaced by the next ssh; one that is never closed (xentest killed) exits by itself
/// `idleSeconds` after its last session. Each command keeps its own far-side `timeout` and output limits.
///
/// The folder is mode 0700: whoever can reach a control socket runs commands on the host as the run's user.
public final class SSHConnectionSharing: Sendable, CustomStringConvertible {
    /// The private folder of the control sockets, one a host (`%C`, a hash of user, host and port).
    public let directory: String
    /// How long a master with no command left waits before it exits (`ControlPersist`).
    public let idleSeconds: Int
    /// Shells kept open on the shared connections, each carrying many commands (`ShellSession`); nil: an ssh a
    /// command on the shared connection (for measuring what the shells save).
    let sessions: ShellSessionPool?
    private let closed = Mutex(false)

    /// Makes the private folder under the temporary directory (`$TMPDIR`, else /tmp). Control socket paths must fit
    /// in 108 bytes: the folder's path is kept short, and `%C` adds 41. With `shellSessions`, commands run in shells
    /// kept open on the connection; without, each in an ssh of its own on it.
    public init(idleSeconds: Int = 60, shellSessions: Bool = true) throws {
        var template = Array((Self.temporaryRoot + "/xentest-ssh-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw CommandNotStarted(
                argv: ["ssh"],
                reason: "cannot make a private folder for SSH's control sockets: \(String(cString: strerror(errno)))"
            )
        }
        directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.idleSeconds = idleSeconds
        sessions = shellSessions ? ShellSessionPool() : nil
    }

    private static var temporaryRoot: String {
        var root = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        if root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        return root.count <= 40 && root.hasPrefix("/") ? root : "/tmp"
    }

    /// Whether `close()` has not been called yet.
    public var isOpen: Bool { !closed.withLock { $0 } }

    /// ssh's options that make it use (or become) the master for its host; none once closed, so that a command
    /// after `close()` still runs, on a connection of its own.
    public var sshOptions: [String] {
        guard isOpen else { return [] }
        return ["-o", "ControlMaster=auto", "-o", "ControlPath=\(directory)/%C", "-o", "ControlPersist=\(idleSeconds)"]
    }

    /// `shared ssh connections in DIR`: for logs.
    public var description: String { "shared ssh connections in \(directory)" }

    /// Ends the shells, asks every master to exit (`ssh -O exit`), then removes the folder. Idempotent; never throws:
    /// a master that does not answer exits by itself after `idleSeconds`.
    public func close() async {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        await sessions?.close()
        let sockets = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for socket in sockets {
            // With a control path of its own, ssh talks to that master only; the host name is not used.
            _ = try? await ProcessExecution.run(
                ["ssh", "-o", "ControlPath=\(directory)/\(socket)", "-O", "exit", "xentest-master"],
                timeout: .seconds(10),
                input: nil,
                outputLimit: 4096
            )
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit {
        // A folder nobody closed: the masters exit when idle, and their sockets with them; the folder goes now.
        if isOpen { try? FileManager.default.removeItem(atPath: directory) }
    }
}
