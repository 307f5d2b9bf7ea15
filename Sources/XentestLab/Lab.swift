import Foundation
import Logging
import XentestBackends
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

/// Xen 4.17 and dom0 in QEMU on this machine, reached over SSH: a Xen host for the xl backend where there is none.
///
/// `up` builds the images once (then reuses them), boots QEMU daemonized and waits until dom0 answers `xl info`
/// over SSH; `status` and `down` act only on the QEMU this lab folder started; `run` runs a plan in it with the xl
/// backend over SSH. Everything the lab keeps is in its folder (`LabPaths`).
public struct Lab: Sendable {
    /// Where the lab keeps its images, keys, state and logs.
    public var paths: LabPaths
    /// Where the images' Debian packages are downloaded and unpacked.
    public var packages: DebianPackageCache
    /// Runs qemu, ssh-keygen, apt and the image tools on this machine.
    public var runner: any CommandRunner
    /// Progress lines for a person (stderr in the CLI).
    public var progress: @Sendable (String) -> Void
    /// Where `/proc` is (tests point it elsewhere).
    var procRoot = "/proc"

    /// A lab in `paths`; packages go to the default cache and commands run on this machine unless told otherwise.
    public init(
        paths: LabPaths,
        packages: DebianPackageCache = DebianPackageCache(),
        runner: any CommandRunner = LocalCommandRunner(),
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.paths = paths
        self.packages = packages
        self.runner = runner
        self.progress = progress
    }

    /// How to reach dom0 over SSH for a lab listening on `port`; with `sharing`, every command on one connection.
    public func sshRunner(port: Int, sharing: SSHConnectionSharing? = nil) -> SSHCommandRunner {
        SSHCommandRunner(
            user: "root",
            host: "127.0.0.1",
            port: port,
            identityFile: paths.clientKey,
            knownHostsFile: paths.knownHosts,
            sharing: sharing
        )
    }

    /// The command a person types to log in to dom0.
    public func sshCommandLine(port: Int) -> String {
        "ssh -i \(paths.clientKey) -o UserKnownHostsFile=\(paths.knownHosts) -p \(port) root@127.0.0.1"
    }

    // MARK: status

    /// Whether the lab runs, as far as this folder's state and /proc tell.
    public enum Status: Sendable, Equatable {
        /// QEMU runs (it may still be booting when `state.bootSeconds` is nil).
        case running(LabState)
        /// Nothing runs; `note` says what was found instead (a stale state file, a pid that is not ours).
        case stopped(note: String?)
    }

    /// Reads the state file and checks its pid is this lab's QEMU.
    public func status() -> Status {
        guard let state = LabState.load(path: paths.stateFile) else {
            if FileManager.default.fileExists(atPath: paths.stateFile) {
                return .stopped(note: "\(paths.stateFile) cannot be read")
            }
            return .stopped(note: nil)
        }
        switch LabProcess.ownership(pid: state.pid, paths: paths, procRoot: procRoot) {
        case .ours: return .running(state)
        case .gone: return .stopped(note: "QEMU (pid \(state.pid)) has exited; `xentest lab down` clears its state")
        case .notOurs(let commandLine):
            return .stopped(
                note: "pid \(state.pid) is no longer this lab's QEMU (it is: \(commandLine.prefix(120))); "
                    + "`xentest lab down` clears the stale state and leaves that process alone"
            )
        }
    }

    /// `status` as text for a person.
    public func describe(_ status: Status, now: Date = Date()) -> String {
        switch status {
        case .stopped(let note): return "stopped" + (note.map { ": \($0)" } ?? "") + "\nlab folder: \(paths.root)\n"
        case .running(let state):
            let uptime = Int(now.timeIntervalSince(state.startedAt))
            let booted = state.bootSeconds.map { String(format: "booted in %.1f s", $0) } ?? "still booting"
            return """
                running: QEMU pid \(state.pid), SSH on 127.0.0.1:\(state.sshPort), \
                up \(Self.duration(uptime)), \(booted)
                lab folder: \(paths.root)
                host file:  \(paths.hostFile)
                serial log: \(paths.serialLog)
                log in:     \(sshCommandLine(port: state.sshPort))

                """
        }
    }

    static func duration(_ seconds: Int) -> String {
        seconds >= 3600
            ? "\(seconds / 3600)h \(seconds % 3600 / 60)m"
            : seconds >= 60 ? "\(seconds / 60)m \(seconds % 60)s" : "\(seconds)s"
    }

    // MARK: up

    /// What `up` did.
    public struct UpReport: Sendable {
        /// The lab as it runs: QEMU's pid, the SSH port, and its boot time.
        public var state: LabState
        /// False when the lab was already running.
        public var started: Bool
        /// The image build (or cache check); nil when the lab was already running.
        public var images: LabImages.Outcome?
        /// `xen_version` from `xl info`.
        public var xenVersion: String?
    }

    /// Boots the lab unless it runs, building the images first if they are not cached (or `rebuild`).
    public func up(rebuild: Bool = false, bootTimeout: PlanDuration = .seconds(300)) async throws -> UpReport {
        if case .running(let state) = status(), state.bootSeconds != nil {
            try writeHostFile()
            return UpReport(state: state, started: false, images: nil, xenVersion: nil)
        }
        try await clearStaleState()
        if let problem = LabMachine.unusableLabDirectory(paths) { throw LabError(problem) }
        guard let qemu = Self.findProgram("qemu-system-x86_64") else {
            throw LabError.qemuMissing("qemu-system-x86_64")
        }
        guard Self.findProgram("ssh") != nil else {
            throw LabError.toolMissing("ssh", package: "openssh-client", for: "reach dom0 over SSH")
        }
        try FileManager.default.createDirectory(atPath: paths.root, withIntermediateDirectories: true)
        let images = try await LabImages(paths: paths, packages: packages, runner: runner, progress: progress)
            .ensure(rebuild: rebuild)
        if images.built {
            progress(
                String(
                    format: "images built in %.1f s (dom0 initramfs %.1f MB, test guest %.1f MB)",
                    images.seconds,
                    Double(images.manifest.dom0RamdiskBytes) / 1e6,
                    Double(images.manifest.guestRamdiskBytes) / 1e6
                )
            )
        } else {
            progress(
                "images: cached (built \(ISO8601DateFormatter().string(from: images.manifest.builtAt)); "
                    + "--rebuild makes them again)"
            )
        }

        var machine = LabMachine(paths: paths, sshPort: 0)
        machine.qemu = qemu
        var state: LabState?
        for attempt in 1...3 where state == nil {
            machine.sshPort = try LabMachine.freeLoopbackPort()
            state = try await startQEMU(machine, lastAttempt: attempt == 3)
        }
        guard var state else { throw LabError("QEMU could not start (see above)") }
        try writeKnownHosts(port: state.sshPort)
        try writeLibvirtSSHCommand()
        progress(
            "QEMU started (pid \(state.pid)); waiting for dom0 to answer `xl info` over SSH on "
                + "127.0.0.1:\(state.sshPort)"
        )
        let info: CommandResult
        do { info = try await waitForSSH(state: state, timeout: bootTimeout) } catch {
            _ = try? await down()
            throw error
        }
        state.bootSeconds = Date().timeIntervalSince(state.startedAt)
        try state.save(path: paths.stateFile)
        try writeHostFile()
        return UpReport(
            state: state,
            started: true,
            images: images,
            xenVersion: (try? XLParse.info(info.stdout))?.xenVersion
        )
    }

    /// Starts QEMU daemonized and records its state; nil when the port was taken meanwhile (try another).
    func startQEMU(_ machine: LabMachine, lastAttempt: Bool) async throws -> LabState? {
        try FileManager.default.createDirectory(atPath: paths.run, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: paths.pidFile)
        try? FileManager.default.removeItem(atPath: paths.qemuLog)
        _ = FileManager.default.createFile(atPath: paths.serialLog, contents: Data())
        let startedAt = Date()
        let result: CommandResult
        do { result = try await runner.run(machine.launchArgv, timeout: .seconds(60)) } catch is CommandNotStarted {
            throw LabError.toolMissing("start-stop-daemon", package: "dpkg", for: "start QEMU in the background")
        }
        guard result.succeeded else {
            throw LabError.commandFailed(result, doing: "start QEMU", next: "QEMU's messages: \(paths.qemuLog)")
        }
        // QEMU writes its pidfile once it has forked into the background; a bad option or a taken port ends it.
        let deadline = Date().addingTimeInterval(60)
        var pid: Int32?
        while Date() < deadline {
            let log = ((try? String(contentsOfFile: paths.qemuLog, encoding: .utf8)) ?? "").trimmed
            let written = (try? String(contentsOfFile: paths.pidFile, encoding: .utf8)).flatMap { Int32($0.trimmed) }
            if let written, LabProcess.ownership(pid: written, paths: paths, procRoot: procRoot) == .ours {
                pid = written
                // Started; give it a moment to fail on its network options before calling it running.
                try await Task.sleep(for: .milliseconds(500))
                if LabProcess.ownership(pid: written, paths: paths, procRoot: procRoot) == .ours { break }
            }
            // Warnings are expected ("hub 1 is not connected to host network": that is the point of the hub).
            let errors = log.split(separator: "\n").filter { !$0.contains(": warning: ") }
            if !errors.isEmpty, pid == nil || LabProcess.ownership(pid: pid!, paths: paths, procRoot: procRoot) != .ours
            {
                if !lastAttempt, log.contains("hostfwd") || log.contains("host forwarding") { return nil }
                throw LabError(
                    "QEMU did not start: \(log)\n(QEMU's command line: \(machine.argv.joined(separator: " ")))"
                )
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let pid, LabProcess.ownership(pid: pid, paths: paths, procRoot: procRoot) == .ours else {
            throw LabError(
                "QEMU wrote no pid to \(paths.pidFile) within a minute; its messages are in \(paths.qemuLog). "
                    + "Look for a qemu-system-x86_64 process with that pidfile and stop it by its pid"
            )
        }
        let state = LabState(
            pid: pid,
            sshPort: machine.sshPort,
            startedAt: startedAt,
            labDirectory: paths.root,
            qemuArgv: machine.argv
        )
        try state.save(path: paths.stateFile)
        return state
    }

    /// Polls `xl info` over SSH until it answers, QEMU dies, dom0 panics or time runs out.
    func waitForSSH(state: LabState, timeout: PlanDuration) async throws -> CommandResult {
        let ssh = sshRunner(port: state.sshPort)
        let deadline = Date().addingTimeInterval(Double(timeout.milliseconds) / 1000)
        var readySince: Date?
        var lastFailure = ""
        while true {
            let serial = (try? String(contentsOfFile: paths.serialLog, encoding: .utf8)) ?? ""
            if LabProcess.ownership(pid: state.pid, paths: paths, procRoot: procRoot) != .ours {
                let qemuLog = ((try? String(contentsOfFile: paths.qemuLog, encoding: .utf8)) ?? "").trimmed
                throw LabError(
                    "QEMU exited while Xen and dom0 were booting" + (qemuLog.isEmpty ? "" : " (QEMU said: \(qemuLog))")
                        + ". The serial console's last lines (\(paths.serialLog)):\n" + Self.tail(serial)
                )
            }
            if let fatal = ["Panic on CPU", "Kernel panic", "Hardware Dom0 crashed", "Hardware Dom0 shutdown"]
                .first(where: serial.contains)
            {
                throw LabError(
                    "dom0 did not boot (\"\(fatal)\" on the serial console). Its last lines "
                        + "(\(paths.serialLog)):\n" + Self.tail(serial)
                )
            }
            if readySince == nil, serial.contains(LabLayout.dom0ReadyMarker) { readySince = Date() }
            let remaining = Int(deadline.timeIntervalSinceNow.rounded(.up))
            let result = try await ssh.run(["xl", "info"], timeout: .seconds(max(2, min(20, remaining))))
            if result.succeeded, result.stdout.contains("xen_version") { return result }
            lastFailure = (result.stderr.isEmpty ? result.stdout : result.stderr).trimmed
            // dom0 said its SSH server started: give it a little while, then call it refused rather than slow.
            if let readySince, Date().timeIntervalSince(readySince) > 30 {
                throw LabError(
                    "dom0 booted (\(LabLayout.dom0ReadyMarker) on the serial console) but SSH to "
                        + "127.0.0.1:\(state.sshPort) "
                        + "fails: \(lastFailure). Look for dropbear's messages in \(paths.serialLog); the keys are in "
                        + "\(paths.ssh). `xentest lab up --rebuild` makes the images (and their keys) again"
                )
            }
            if Date() > deadline {
                throw LabError(
                    "dom0 did not answer over SSH within \(timeout) (last: \(lastFailure)). The serial console's last "
                        + "lines (\(paths.serialLog)):\n" + Self.tail(serial)
                        + "\nUnder heavy load software emulation is slow: try again with a longer --timeout"
                )
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The last `count` lines of a log, without carriage returns.
    static func tail(_ text: String, count: Int = 30) -> String {
        let lines = text.replacingOccurrences(of: "\r", with: "")
            .split(separator: "\n", omittingEmptySubsequences: false)
        return lines.suffix(count + 1).joined(separator: "\n").trimmed
    }

    /// The lab's own known_hosts: dom0's host key for 127.0.0.1 at this port.
    func writeKnownHosts(port: Int) throws {
        let key = try String(contentsOfFile: paths.hostKey + ".pub", encoding: .utf8)
        let fields = key.split(separator: " ")
        guard fields.count >= 2 else {
            throw LabError("\(paths.hostKey).pub is not an SSH public key: remove \(paths.ssh) and run up again")
        }
        try Data("[127.0.0.1]:\(port) \(fields[0]) \(fields[1])\n".utf8)
            .write(to: URL(fileURLWithPath: paths.knownHosts))
    }

    /// libvirtd in dom0 through its libxl driver, reached like dom0 itself: libvirt's SSH transport runs
    /// `sshCommand`, which checks dom0's key against the lab's known_hosts (libvirt's own ssh call would use the
    /// user's, or none with `no_verify`).
    public func libvirtURI(port: Int) -> String {
        "xen+ssh://root@127.0.0.1:\(port)/system?keyfile=\(paths.clientKey)&command=\(paths.libvirtSSHCommand)"
    }

    /// Writes the ssh that `libvirtURI` names.
    func writeLibvirtSSHCommand() throws {
        let script = """
            #!/bin/sh
            # ssh for libvirt's xen+ssh:// connection to this lab's dom0 (written by `xentest lab up`).
            exec ssh -o UserKnownHostsFile=\(shellQuoted(paths.knownHosts)) -o StrictHostKeyChecking=yes \
              -o IdentitiesOnly=yes "$@"

            """
        try Data(script.utf8).write(to: URL(fileURLWithPath: paths.libvirtSSHCommand))
        chmod(paths.libvirtSSHCommand, 0o755)
    }

    /// Writes `host.yaml`.
    public func writeHostFile() throws {
        try Data(LabLayout.hostFile.utf8).write(to: URL(fileURLWithPath: paths.hostFile))
    }

    /// Removes a state file whose QEMU is gone or is not ours (without touching that process).
    func clearStaleState() async throws {
        if case .stopped = status(), FileManager.default.fileExists(atPath: paths.run) {
            try? FileManager.default.removeItem(atPath: paths.run)
        }
        if case .running(let state) = status(), state.bootSeconds == nil {
            // A boot that an earlier `up` abandoned (Ctrl-C): start over.
            _ = try await down()
        }
    }

    // MARK: down

    /// What `down` did.
    public enum DownReport: Sendable, Equatable {
        case stopped(pid: Int32, killed: Bool)
        case notRunning(note: String?)
    }

    /// Stops this lab's QEMU (SIGTERM, then SIGKILL after 10 s) and removes the runtime state. A pid that is not
    /// this lab's QEMU is left alone.
    public func down() async throws -> DownReport {
        let state = LabState.load(path: paths.stateFile)
        let pid =
            state?.pid ?? (try? String(contentsOfFile: paths.pidFile, encoding: .utf8)).flatMap { Int32($0.trimmed) }
        guard let pid else {
            try? FileManager.default.removeItem(atPath: paths.run)
            return .notRunning(note: nil)
        }
        switch LabProcess.ownership(pid: pid, paths: paths, procRoot: procRoot) {
        case .gone:
            try? FileManager.default.removeItem(atPath: paths.run)
            return .notRunning(note: "QEMU (pid \(pid)) had already exited; its state is removed")
        case .notOurs(let commandLine):
            try? FileManager.default.removeItem(atPath: paths.run)
            return .notRunning(
                note: "pid \(pid) is not this lab's QEMU (\(commandLine.prefix(120))): left alone; "
                    + "the stale state is removed"
            )
        case .ours:
            kill(pid, SIGTERM)
            var killed = false
            for tick in 0..<120 {
                if LabProcess.ownership(pid: pid, paths: paths, procRoot: procRoot) != .ours { break }
                if tick == 100 {
                    // Checked again just before: the pid is still our QEMU.
                    kill(pid, SIGKILL)
                    killed = true
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            try? FileManager.default.removeItem(atPath: paths.run)
            return .stopped(pid: pid, killed: killed)
        }
    }

    // MARK: run

    /// Where a plan runs in the lab: the host file and the backend selection (xl over SSH, or libvirt's libxl
    /// driver in dom0 over `xen+ssh://`), booting the lab first if needed. Results stay on this machine.
    public struct RunTarget: Sendable {
        /// The lab's host file (the spare NIC as role `nic`, the bridge, the test guest inside dom0).
        public var hostConfigPath: String
        /// The toolstack in dom0, and dom0's shell for both toolstacks: xl runs there, and libvirt's backend reads
        /// there what libvirt does not report and pings the guests from there.
        public var selection: BackendSelection
        /// Whether this call booted the lab, and how long that took.
        public var bootSeconds: Double?
    }

    /// Boots the lab if needed and says where a plan runs in it, through `backend` (xl unless libvirt is named).
    public func runTarget(backend: BackendKind?, bootTimeout: PlanDuration = .seconds(300)) async throws -> RunTarget {
        let report = try await up(bootTimeout: bootTimeout)
        let state = report.state
        // The run's commands share one connection to dom0; the caller closes it (`BackendSelection.close()`).
        let shell = sshRunner(port: state.sshPort, sharing: try? SSHConnectionSharing())
        let selection =
            backend == .libvirt
            ? BackendSelection(kind: .libvirt, connect: libvirtURI(port: state.sshPort), hostShell: shell)
            : BackendSelection(kind: .xl, hostShell: shell)
        return RunTarget(
            hostConfigPath: paths.hostFile,
            selection: selection,
            bootSeconds: report.started ? state.bootSeconds ?? 0 : nil
        )
    }

    /// The first executable `name` on PATH.
    static func findProgram(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
