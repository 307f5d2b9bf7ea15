import Foundation
import Synchronization
import XentestSupport
import XentestPlan

/// `results/<plan>-<UTC>-<host>/`: the journal, each case's evidence, and the reports.
///
/// It consumes run events: each is appended to `journal.jsonl` as it comes, and each case's evidence is written
/// when the case ends, so a crash loses nothing that finished.
public final class ResultsDirectory: RunRecorder {
    /// The run's directory.
    public let path: String
    /// The journal inside it.
    public let journal: Journal
    private let builder = Mutex(RunResultBuilder())
    private let writeErrors = Mutex<[String]>([])

    /// Creates `<root>/<plan>-<UTC time>-<host>/` (with a suffix if that exists already).
    public init(root: String, plan: String, host: String, at date: Date) throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let safeHost = String(host.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        let base = "\(root)/\(plan)-\(formatter.string(from: date))-\(safeHost)"
        var candidate = base
        var suffix = 1
        while FileManager.default.fileExists(atPath: candidate) {
            suffix += 1
            candidate = "\(base)-\(suffix)"
        }
        try FileManager.default.createDirectory(atPath: candidate + "/cases", withIntermediateDirectories: true)
        path = candidate
        journal = try Journal(path: candidate + "/journal.jsonl")
    }

    /// Where each case's evidence directory goes.
    public var casesPath: String { path + "/cases" }

    /// Records one event: journal first, then evidence when a case ends.
    public func record(_ event: RunEvent) {
        do { try journal.append(event) } catch { writeErrors.withLock { $0.append("journal: \(error)") } }
        let finished: CaseResult? = builder.withLock { builder in
            guard case .caseEnded(let id, _, _, _, _) = event, let open = builder.openCase(id) else {
                builder.add(event)
                return nil
            }
            builder.add(event)
            return builder.caseResult(id, backend: open.backend)
        }
        if let finished { writeEvidence(finished) }
    }

    /// The result folded from every event recorded so far.
    public func result() -> RunResult? { builder.withLock { $0.result() } }

    /// Problems writing files, for a warning at the end of the run.
    public var problems: [String] { writeErrors.withLock { $0 } }

    private func writeEvidence(_ testCase: CaseResult) {
        let directory = casesPath + "/" + testCase.id
        do {
            let text =
                "\(testCase.id) [\(testCase.backend.rawValue)]: \(testCase.status.rawValue)"
                + (testCase.reason.map { " (\($0))" } ?? "") + "\n\n" + testCase.evidenceText + "\n"
            // Plain mkdir/open/write: FileManager and String.write cost 3 to 4 times as much here, once per case.
            // Not atomic: a half-written evidence file after a crash is still evidence, and the journal has it all.
            if mkdir(directory, 0o755) != 0 && errno != EEXIST {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            try FileWrites.writeAll(Data(text.utf8), toNewFile: directory + "/evidence.txt")
        } catch { writeErrors.withLock { $0.append("evidence of \(testCase.id): \(error)") } }
    }
}
