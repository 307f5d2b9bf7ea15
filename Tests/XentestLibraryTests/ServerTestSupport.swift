import Foundation
@testable import XentestPlan
@testable import XentestRun
@testable import XentestServer
import XentestSupport

/// The databases the results store is tested on: SQLite in a scratch file always, and PostgreSQL when
/// `scripts/postgres start` made one and XENTEST_POSTGRES_URL names it (scripts/test does both).
enum TestDatabases {
    /// The PostgreSQL URL, if one is given.
    static let postgresURL = ProcessInfo.processInfo.environment["XENTEST_POSTGRES_URL"]
        .flatMap { $0.isEmpty ? nil : $0 }

    /// `sqlite`, and `postgres` when there is one.
    static let kinds: [String] = ["sqlite"] + (postgresURL == nil ? [] : ["postgres"])

    /// An empty database of `kind`: a new SQLite file, or a new PostgreSQL schema of its own (dropped by `drop`).
    static func fresh(_ kind: String) throws -> (Database, drop: () -> Void) {
        if kind == "postgres", let url = postgresURL {
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let connection = try PostgresConnection(uri: url)
            try connection.execute("CREATE SCHEMA \(schema)", [])
            try connection.execute("SET search_path TO \(schema)", [])
            return (
                Database(connection),
                { _ = try? PostgresConnection(uri: url).execute("DROP SCHEMA \(schema) CASCADE", []) }
            )
        }
        let directory = try ScratchDirectory()
        let database = try Database.open(directory.url.appendingPathComponent("results.sqlite").path)
        return (database, { withExtendedLifetime(directory) {} })
    }
}

/// A run of `cases` (id: status) on `host` for `release`, started `minutes` after a fixed moment; a failing case
/// fails at a step named by its `failingStep`.
func storedRun(
    _ runID: String,
    release: String,
    host: String = "dom0-a",
    minutes: Int,
    _ cases: [(String, CaseStatus)],
    failingStep: String = "vcpu-set 2"
) -> RunResult {
    var result = sampleResult()
    result.runID = runID
    result.release = release
    result.host.hostname = host
    result.startedAt = Date(timeIntervalSince1970: 1_700_000_000 + Double(minutes * 60))
    result.finishedAt = result.startedAt.addingTimeInterval(30)
    result.cases = cases.map { id, status in
        let failed = status.outcome == .failed || status.outcome == .broke
        return CaseResult(
            id: id,
            title: "Title of \(id)",
            area: id.hasPrefix("net") ? "network" : "lifecycle",
            backend: .xl,
            status: status,
            reason: status == .pass ? nil : "because",
            knownIssue: nil,
            durationSeconds: 1,
            steps: [
                StepResult(
                    index: 0,
                    label: failed ? failingStep : "create",
                    expected: "succeeds",
                    status: failed ? (status == .xfail ? .fail : status) : .pass,
                    message: failed ? "failed in xentest-\(runID)-\(id)" : nil,
                    durationSeconds: 0.5,
                    attempts: 1,
                    evidence: []
                )
            ],
            teardown: []
        )
    }
    result.summary = RunSummary(result.cases)
    result.baseline = nil
    return result
}
