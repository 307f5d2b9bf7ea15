import Foundation

/// Runs commands on another host over SSH, non-interactively (`BatchMode`), with a key.
///
/// ssh hands the far side one command line, which its shell splits again: each argument is quoted for that shell,
/// so plan text arrives as the same single arguments and is never interpreted.
public struct SSHCommandRunner: CommandRunner {
    /// The user to log in as; nil: ssh's choice (the tester's `~/.ssh/config` for the host, else the local user).
    public var user: String?
    /// The host's name or address, or a `Host` alias of the tester's `~/.ssh/config`.
    public var host: String
    /// sshd's port on the host; nil: ssh's choice (`~/.ssh/config`, else 22).
    public var port: Int?
    /// A private key to log in with; nil for ssh's defaults.
    public var identityFile: String?
    /// A known_hosts file for this host (the lab writes its own); nil for the user's.
    public var knownHostsFile: String?
    /// Kept for the evidence of the far side's command, not the local ssh process.
    public var outputLimit = 4 * 1024 * 1024
    /// The connection every command shares, when one is; nil: a connection a command.
    public var sharing: SSHConnectionSharing?

    /// A runner for `user@host:port`; without `identityFile` or `knownHostsFile`, ssh uses its own defaults.
    public init(
        user: String?,
        host: String,
        port: Int? = 22,
        identityFile: String? = nil,
        knownHostsFile: String? = nil,
        sharing: SSHConnectionSharing? = nil
    ) {
        self.user = user
        self.host = host
        self.port = port
        self.identityFile = identityFile
        self.knownHostsFile = knownHostsFile
        self.sharing = sharing
    }

    /// Parses `ssh://[user@]host[:port]`; what the URL leaves out, ssh takes from the tester's `~/.ssh/config` (an
    /// alias there works: `ssh://xen1`). Its commands share `sharing`'s connection when one is given.
    public init?(url: String, sharing: SSHConnectionSharing? = nil) {
        guard url.hasPrefix("ssh://") else { return nil }
        var rest = String(url.dropFirst("ssh://".count))
        if rest.hasSuffix("/") { rest.removeLast() }
        var user: String?
        if let at = rest.firstIndex(of: "@") {
            user = String(rest[..<at])
            rest = String(rest[rest.index(after: at)...])
        }
        var port: Int?
        if let colon = rest.lastIndex(of: ":") {
            guard let parsed = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = parsed
            rest = String(rest[..<colon])
        }
        // Neither may look like an option to ssh.
        guard !rest.isEmpty, !rest.hasPrefix("-"), user.map({ !$0.isEmpty && !$0.hasPrefix("-") }) ?? true,
            port.map({ (1...65535).contains($0) }) ?? true
        else { return nil }
        self.init(user: user, host: rest, port: port, sharing: sharing)
    }

    /// Closes the shared connection, if there is one.
    public func close() async { await sharing?.close() }

    /// `ssh user@host:port`, leaving out what ssh chooses: for reports.
    public var description: String { "ssh \(destination)" + (port.map { ":\($0)" } ?? "") }

    /// `user@host`, or `host` when ssh chooses the user.
    public var destination: String { user.map { "\($0)@\(host)" } ?? host }

    /// The local argv that runs `argv` on the far side.
    public func sshArgv(for argv: [String]) -> [String] {
        var ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"]
        if let port { ssh += ["-p", String(port)] }
        if let identityFile { ssh += ["-i", identityFile, "-o", "IdentitiesOnly=yes"] }
        if let knownHostsFile {
            ssh += ["-o", "UserKnownHostsFile=\(knownHostsFile)", "-o", "StrictHostKeyChecking=yes"]
        }
        if let sharing { ssh += sharing.sshOptions }
        return ssh + [destination, "--", argv.map(shellQuoted).joined(separator: " ")]
    }

    /// How much longer than a command's limit the local ssh may take (connecting, returning the output) before it
    /// is killed too, when the far side has not ended the command itself.
    public var transportGrace = PlanDuration.seconds(10)

    /// The far side's argv for `argv` with `timeout`: its own `timeout` (coreutils or busybox, same options) ends the
    /// command there at the limit. Killing the local ssh alone would leave it running on the host: without a
    /// terminal, sshd does not signal the command when the connection drops, so a hung `xl` would stay hung.
    public static func remoteArgv(for argv: [String], timeout: PlanDuration) -> [String] {
        let seconds = max(1, (timeout.milliseconds + 999) / 1000)
        return ["timeout", "-k", "2", String(seconds)] + argv
    }

    /// Runs `argv` on the host as one of the current step's commands: the far side ends it at the time limit
    /// (`remoteArgv`), the local ssh is killed `transportGrace` later. With a shared connection it runs in one of its
    /// shells (`ShellSession`: a killed one is not used again); input holding a NUL, which no shell word can carry,
    /// goes to an ssh of its own on that connection. The result names `argv`, not ssh, and is marked
    /// timed out when the far side's `timeout` ended it; when ssh itself failed, its stderr starts with
    /// `ssh USER@HOST:PORT failed:`.
    public func run(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        try await StepActivity.tracking(argv) { try await runRemotely(argv, timeout: timeout, input: input) }
    }

    private func runRemotely(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        let timeout = TaskDeadline.limit(timeout)
        let localLimit = PlanDuration(milliseconds: timeout.milliseconds + transportGrace.milliseconds)
        let remote = Self.remoteArgv(for: argv, timeout: timeout)
        var result: CommandResult
        if let sessions = sharing?.sessions, sharing?.isOpen == true, !(input?.contains("\0") ?? false) {
            result = try await sessions.run(
                ShellSession.commandLine(remote, input: input),
                launch: sshArgv(for: ["exec", "sh"]),
                limit: localLimit,
                outputLimit: outputLimit
            )
        } else {
            result = try await ProcessExecution.run(
                sshArgv(for: remote),
                timeout: localLimit,
                input: input,
                outputLimit: outputLimit
            )
        }
        result.argv = argv
        // `timeout` exits 124 when it ended the command (137 when SIGTERM was not enough and it sent SIGKILL).
        if (result.status == 124 || result.status == 137)
            && result.durationSeconds * 1000 >= Double(timeout.milliseconds)
        {
            result.timedOut = true
        }
        // 255 is ssh's own failure, but also what a remote command exiting -1 gives (xl does): blame ssh only when
        // ssh says something.
        let sshWords = [
            "ssh:", "Connection refused", "Connection closed", "Permission denied", "Host key verification",
        ]
        if result.status == 255 && !result.timedOut && sshWords.contains(where: result.stderr.contains) {
            result.stderr = "\(description) failed: " + result.stderr
        }
        return result
    }
}

/// Quotes one argument for a POSIX shell: single quotes, with embedded ones closed, escaped and reopened.
public func shellQuoted(_ argument: String) -> String {
    let plain =
        !argument.isEmpty
        && argument.unicodeScalars.allSatisfy {
            ($0.value >= 0x30 && $0.value <= 0x39) || ($0.value >= 0x41 && $0.value <= 0x5A)
                || ($0.value >= 0x61 && $0.value <= 0x7A) || "-_./:=,@%+".unicodeScalars.contains($0)
        }
    return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
