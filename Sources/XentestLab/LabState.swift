import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// A running lab, as `up` recorded it in `run/state.json`.
public struct LabState: Codable, Sendable, Hashable {
    /// QEMU's process id (from its pidfile).
    public var pid: Int32
    /// The host port forwarded to dom0's SSH (on 127.0.0.1 only).
    public var sshPort: Int
    /// When QEMU was started.
    public var startedAt: Date
    /// Seconds from starting QEMU to the first `xl info` over SSH; nil while booting.
    public var bootSeconds: Double?
    /// The lab folder this state belongs to.
    public var labDirectory: String
    /// How QEMU was started.
    public var qemuArgv: [String]

    /// The state of a lab whose QEMU runs as `pid`; `bootSeconds` stays nil until dom0 answers.
    public init(
        pid: Int32,
        sshPort: Int,
        startedAt: Date,
        bootSeconds: Double? = nil,
        labDirectory: String,
        qemuArgv: [String]
    ) {
        self.pid = pid
        self.sshPort = sshPort
        self.startedAt = startedAt
        self.bootSeconds = bootSeconds
        self.labDirectory = labDirectory
        self.qemuArgv = qemuArgv
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Reads a state file; nil when there is none or it cannot be read.
    public static func load(path: String) -> LabState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? decoder.decode(LabState.self, from: data)
    }

    /// Writes the state file (and its folder).
    public func save(path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try Self.encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// Whether a process id is this lab's QEMU: alive, a `qemu-system-*` program, and started with this lab's
/// pidfile. `status` and `down` act on nothing else, so a recycled pid or another lab's QEMU is never touched.
public enum LabProcess {
    /// What a pid turned out to be.
    public enum Ownership: Sendable, Equatable {
        /// This lab's QEMU.
        case ours
        /// No such process (or a zombie).
        case gone
        /// Some other process: its command line, for the message.
        case notOurs(commandLine: String)
    }

    /// Looks at `/proc/PID/cmdline` (under `procRoot`, for tests).
    public static func ownership(pid: Int32, paths: LabPaths, procRoot: String = "/proc") -> Ownership {
        guard pid > 0 else { return .gone }
        let directory = "\(procRoot)/\(pid)"
        if let status = try? String(contentsOfFile: directory + "/status", encoding: .utf8),
            status.split(separator: "\n").contains(where: { $0.hasPrefix("State:") && $0.contains("Z") })
        {
            return .gone
        }
        guard let data = FileManager.default.contents(atPath: directory + "/cmdline"), !data.isEmpty else {
            return .gone
        }
        let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        let program = argv.first.map { ($0 as NSString).lastPathComponent } ?? ""
        let isOurs = program.hasPrefix("qemu-system-") && argv.contains(paths.pidFile)
        return isOurs ? .ours : .notOurs(commandLine: argv.joined(separator: " "))
    }

    /// Whether the process still exists (signal 0).
    public static func isAlive(_ pid: Int32) -> Bool { pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) }
}
