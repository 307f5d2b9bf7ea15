import Foundation
import XentestSupport
import XentestPlan

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
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        encoder = JSONCoders.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    deinit { close(descriptor) }

    /// Appends one event as a line.
    public func append(_ event: RunEvent) throws {
        var data = try encoder.encode(event)
        data.append(0x0A)
        lock.lock()
        defer { lock.unlock() }
        try FileWrites.writeAll(data, to: descriptor)
    }

    /// Reads a journal's events; a last line cut short by a crash is ignored, any other bad line is an error.
    public static func read(path: String) throws -> [RunEvent] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = JSONCoders.makeDecoder()
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        var events: [RunEvent] = []
        for (index, line) in lines.enumerated() {
            do { events.append(try decoder.decode(RunEvent.self, from: Data(line))) } catch {
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
}

/// A journal line that is not an event.
public struct JournalError: Error, CustomStringConvertible {
    /// The journal's path.
    public var path: String
    /// The line that is not an event, counting from 1.
    public var line: Int
    /// What the decoder said about it.
    public var message: String
    /// `PATH:LINE: error: not a journal event: MESSAGE`.
    public var description: String { "\(path):\(line): error: not a journal event: \(message)" }
}
