import Foundation

/// What happens during a run, in order. The runner only emits these; the journal, the progress lines and the
/// result are all built from them.
public enum RunEvent: Sendable, Hashable, Codable {
    /// The run began; everything a report needs about the run and host.
    case runStarted(RunHeader)
    /// A case was resolved to skip before anything was created.
    case caseSkipped(caseID: String, backend: String, reason: String)
    /// A case began.
    case caseStarted(caseID: String, backend: String, at: Date)
    /// A step (or a teardown step) ended.
    case stepEnded(caseID: String, step: StepResult, teardown: Bool)
    /// A case ended.
    case caseEnded(caseID: String, status: CaseStatus, reason: String?, knownIssue: String?, durationSeconds: Double)
    /// The run ended; `interrupted` after Ctrl-C or SIGTERM.
    case runEnded(at: Date, interrupted: Bool)
}

/// The facts fixed at a run's start.
public struct RunHeader: Sendable, Hashable, Codable {
    public var runID: String
    public var plan: String
    public var planTitle: String
    public var release: String
    public var xentestVersion: String
    public var host: HostFacts
    public var hostConfig: String
    public var startedAt: Date
    /// Every case x backend in plan order, with its title and area, so a fold knows cases that never started.
    public var cases: [PlannedCase]
    /// The earlier run this one is measured against (`--baseline`).
    public var baseline: BaselineRun? = nil

    /// A case as planned for this run.
    public struct PlannedCase: Sendable, Hashable, Codable {
        public var id: String
        public var title: String
        public var area: String
        public var backend: String
    }
}

/// Folds events into a `RunResult`. Works on a complete journal and on one cut anywhere: cases that started
/// but did not end, or never started, become `interrupted`.
public struct RunResultBuilder: Sendable {
    private var header: RunHeader?
    private var results: [String: CaseResult] = [:]
    private var lastEventTime: Date?
    private var ended: (at: Date, interrupted: Bool)?

    /// An empty fold.
    public init() {}

    /// Adds one event.
    public mutating func add(_ event: RunEvent) {
        switch event {
        case .runStarted(let header):
            self.header = header
            planned = Dictionary(header.cases.map { (key($0.id, $0.backend), $0) }) { first, _ in first }
            lastEventTime = header.startedAt
        case .caseSkipped(let id, let backend, let reason):
            var result = emptyResult(id, backend: backend)
            result.status = .skip
            result.reason = reason
            results[key(id, backend)] = result
        case .caseStarted(let id, let backend, let at):
            var result = emptyResult(id, backend: backend)
            result.status = .interrupted
            result.reason = "the run stopped while this case was running"
            results[key(id, backend)] = result
            currentKey = key(id, backend)
            lastEventTime = at
        case .stepEnded(let id, let step, let teardown):
            guard let backendKey = currentKey, results[backendKey]?.id == id else { return }
            if teardown { results[backendKey]?.teardown.append(step) } else { results[backendKey]?.steps.append(step) }
        case .caseEnded(let id, let status, let reason, let knownIssue, let duration):
            guard let backendKey = currentKey, results[backendKey]?.id == id else { return }
            results[backendKey]?.status = status
            results[backendKey]?.reason = reason
            results[backendKey]?.knownIssue = knownIssue
            results[backendKey]?.durationSeconds = duration
            currentKey = nil
        case .runEnded(let at, let interrupted):
            ended = (at, interrupted)
            lastEventTime = at
        }
    }

    /// The result so far; nil before `runStarted`.
    public func result() -> RunResult? {
        guard let header else { return nil }
        var cases: [CaseResult] = []
        for planned in header.cases {
            if var result = results[key(planned.id, planned.backend)] {
                if result.status == .interrupted && !result.steps.isEmpty {
                    result.durationSeconds = result.steps.reduce(0) { $0 + $1.durationSeconds }
                }
                cases.append(result)
            } else {
                var result = emptyResult(planned.id, backend: planned.backend)
                result.status = .interrupted
                result.reason = "the run stopped before this case started"
                cases.append(result)
            }
        }
        let interrupted = ended?.interrupted ?? true
        return RunResult(
            schemaVersion: RunResult.currentSchemaVersion,
            runID: header.runID,
            plan: header.plan,
            planTitle: header.planTitle,
            release: header.release,
            xentestVersion: header.xentestVersion,
            host: header.host,
            hostConfig: header.hostConfig,
            startedAt: header.startedAt,
            finishedAt: ended?.at ?? lastEventTime ?? header.startedAt,
            interrupted: interrupted,
            summary: RunSummary(cases),
            cases: cases,
            baseline: header.baseline.map { BaselineComparison(baseline: $0, cases: cases) }
        )
    }

    /// The case that started and has not ended: cases run one at a time.
    private var currentKey: String?
    /// The header's cases by key, so each event is folded in constant time.
    private var planned: [String: RunHeader.PlannedCase] = [:]

    /// The case that has started and not ended, if any.
    public var openCase: CaseResult? { currentKey.flatMap { results[$0] } }

    /// One case's result so far, without folding the whole run.
    public func caseResult(_ id: String, backend: String) -> CaseResult? { results[key(id, backend)] }

    private func key(_ id: String, _ backend: String) -> String { backend + "/" + id }

    private func emptyResult(_ id: String, backend: String) -> CaseResult {
        let planned = planned[key(id, backend)]
        return CaseResult(
            id: id,
            title: planned?.title ?? id,
            area: planned?.area ?? "",
            backend: backend,
            status: .interrupted,
            reason: nil,
            knownIssue: nil,
            durationSeconds: 0,
            steps: [],
            teardown: []
        )
    }
}

/// The run's journal: one JSON event a line, written and handed to the kernel per event, so a crash loses
/// nothing that happened before it.
public final class Journal: @unchecked Sendable {
    // @unchecked: the file descriptor is only written under `lock`.
    private let descriptor: Int32
    private let lock = NSLock()
    private let encoder: JSONEncoder

    /// The journal's path.
    public let path: String

    /// Creates (or truncates) the journal at `path`.
    public init(path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        encoder = Journal.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    deinit { close(descriptor) }

    /// Appends one event as a line.
    public func append(_ event: RunEvent) throws {
        var data = try encoder.encode(event)
        data.append(0x0A)
        lock.lock()
        defer { lock.unlock() }
        try Self.writeAll(data, to: descriptor)
    }

    /// Writes all of `data` to `descriptor`, through short writes and interrupted calls.
    static func writeAll(_ data: Data, to descriptor: Int32) throws {
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                offset += written
            }
        }
    }

    /// Creates (or truncates) `path` and writes `data` to it.
    static func writeAll(_ data: Data, toNewFile path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        try writeAll(data, to: descriptor)
    }

    /// Reads a journal's events; a last line cut short by a crash is ignored, any other bad line is an error.
    public static func read(path: String) throws -> [RunEvent] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = makeDecoder()
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        var events: [RunEvent] = []
        for (index, line) in lines.enumerated() {
            do {
                events.append(try decoder.decode(RunEvent.self, from: Data(line)))
            } catch {
                if index == lines.count - 1 && data.last != 0x0A { break }
                throw JournalError(path: path, line: index + 1, message: "\(error)")
            }
        }
        return events
    }

    /// The result folded from the journal at `path`; nil when it holds no run.
    public static func result(path: String) throws -> RunResult? {
        var builder = RunResultBuilder()
        for event in try read(path: path) { builder.add(event) }
        return builder.result()
    }

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.format(date))
        }
        return encoder
    }

    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = ISO8601.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad date \(text)"))
            }
            return date
        }
        return decoder
    }
}

/// A journal line that is not an event.
public struct JournalError: Error, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var message: String
    public var description: String { "\(path):\(line): error: not a journal event: \(message)" }
}

/// UTC timestamps with milliseconds, the one date format of journals and reports.
enum ISO8601 {
    /// `2026-11-25T10:15:00.123Z`, without a formatter object: one is made per call otherwise, and a run writes
    /// thousands of dates.
    static func format(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        var seconds = time_t((milliseconds / 1000).rounded(.down))
        let fraction = Int(milliseconds - Double(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(fraction), 3) + "Z"
    }

    static func parse(_ text: String) -> Date? {
        parserLock.withLock { fractional.date(from: text) ?? whole.date(from: text) }
    }

    // Parsing happens only when a journal or report is read back; one formatter pair, used under a lock.
    private static let parserLock = NSLock()
    nonisolated(unsafe) private static let fractional: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
    nonisolated(unsafe) private static let whole = ISO8601DateFormatter()
}
