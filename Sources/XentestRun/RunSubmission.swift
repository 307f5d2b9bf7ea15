import Foundation
import XentestSupport

/// What `xentest submit` uploads to a results server (`POST /api/runs`, JSON): the run's report, and its journal and
/// evidence as a gzipped tar archive, bounded in size.
public struct RunSubmission: Sendable, Hashable, Codable {
    /// The run's result, as in its `report.json` (schema `schemas/report.schema.json`).
    public var report: RunResult
    /// The run directory's `journal.jsonl` and `cases/*/evidence.txt` as a `.tar.gz`, base64; nil when none was
    /// sent.
    public var archive: String?
    /// The files left out of the archive to keep it under its bound, largest first.
    public var archiveOmitted: [String]

    /// A submission from its parts.
    public init(report: RunResult, archive: String? = nil, archiveOmitted: [String] = []) {
        self.report = report
        self.archive = archive
        self.archiveOmitted = archiveOmitted
    }

    /// Reads a submission; `archiveOmitted` may be missing (none).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        report = try container.decode(RunResult.self, forKey: .report)
        archive = try container.decodeIfPresent(String.self, forKey: .archive)
        archiveOmitted = try container.decodeIfPresent([String].self, forKey: .archiveOmitted) ?? []
    }

    /// What identifies a run among every tester's: the same run submitted twice is one run. A run's id alone is too
    /// short to be unique across testers; with its start time and host it is.
    public var identity: String { "\(report.runID) \(ISO8601.format(report.startedAt)) \(report.host.hostname)" }
}
