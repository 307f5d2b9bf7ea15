import Foundation
import XentestRun
import XentestSupport

/// Every tester's runs in one database, SQLite or PostgreSQL alike: the same statements on both (`?` placeholders,
/// `ON CONFLICT`, `RETURNING`), their few differences in `SQLDialect`.
///
/// A run is stored whole in one transaction (its report, its archive, a row per case), so a reader, or a server
/// killed halfway, sees all of a run or none of it; `submit` returns only after the commit.
public final class ResultStore: Sendable {
    let database: Database

    /// Opens the store in `database`, making its tables when they are not there.
    public init(database: Database) async throws {
        self.database = database
        let dialect = database.dialect
        try await database.with { connection in
            for statement in Self.schema(dialect) { try connection.execute(statement, []) }
        }
    }

    static func schema(_ dialect: SQLDialect) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS testers (name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS hosts (id \(dialect.serialKey), host_key TEXT NOT NULL UNIQUE,
                tester TEXT NOT NULL, ran_on TEXT NOT NULL, facts TEXT NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS runs (id \(dialect.serialKey), identity TEXT NOT NULL UNIQUE,
                run_id TEXT NOT NULL, release TEXT NOT NULL, plan TEXT NOT NULL, host BIGINT NOT NULL REFERENCES hosts(id),
                tester TEXT NOT NULL, started_at TEXT NOT NULL, report_sha256 TEXT NOT NULL, report TEXT NOT NULL,
                archive \(dialect.bytes), submitted_at TEXT NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS case_results (run BIGINT NOT NULL REFERENCES runs(id), position BIGINT NOT NULL,
                case_id TEXT NOT NULL, area TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL, failure TEXT,
                PRIMARY KEY (run, position))
            """, "CREATE INDEX IF NOT EXISTS runs_release ON runs (release)",
            "CREATE INDEX IF NOT EXISTS runs_host ON runs (host)",
            "CREATE INDEX IF NOT EXISTS case_results_case ON case_results (case_id)",
        ]
    }

    // MARK: Testers

    /// Adds a tester and returns their new token (shown once: the store keeps its SHA-256 only).
    public func addTester(_ name: String) async throws -> String {
        var random = SystemRandomNumberGenerator()
        let token =
            "xt_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        let digest = SHA256.hex(token)
        try await database.with { connection in
            let existing = try connection.execute("SELECT name FROM testers WHERE name = ?", [.text(name)])
            guard existing.isEmpty else { throw StoreError.testerExists(name) }
            try connection.execute(
                "INSERT INTO testers (name, token_sha256, created_at) VALUES (?, ?, ?)",
                [.text(name), .text(digest), .text(ISO8601.format(Date()))]
            )
        }
        return token
    }

    /// Removes a tester's token; whether there was one.
    public func removeTester(_ name: String) async throws -> Bool {
        try await database.with { connection in
            !(try connection.execute("DELETE FROM testers WHERE name = ? RETURNING name", [.text(name)]).isEmpty)
        }
    }

    /// The testers' names and when each was added.
    public func testers() async throws -> [(name: String, added: String)] {
        let rows = try await database.with { connection in
            try connection.execute("SELECT name, created_at FROM testers ORDER BY name", [])
        }
        return rows.map { ($0[0].text ?? "", $0[1].text ?? "") }
    }

    /// The tester whose token this is, or nil.
    public func tester(token: String) async throws -> String? {
        let digest = SHA256.hex(token)
        return try await database.with { connection in
            try connection.execute("SELECT name FROM testers WHERE token_sha256 = ?", [.text(digest)]).first?[0].text
        }
    }

    // MARK: Submissions

    /// What became of a submission.
    public enum Outcome: Sendable, Equatable {
        /// Stored now as run `id`.
        case stored(id: Int64)
        /// The same run was stored before, identical, as `id`: nothing changed.
        case alreadyStored(id: Int64)
        /// A run with the same identity but other content is stored as `id`: refused.
        case conflict(id: Int64)
    }

    /// Stores `submission` from `tester`, committed before it returns.
    public func submit(_ submission: RunSubmission, archive: [UInt8]?, tester: String) async throws -> Outcome {
        let report = submission.report
        // Keys sorted: the same report is the same text, so the same run sent twice is seen as the same.
        let encoder = JSONCoders.makeEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let reportJSON = String(decoding: try encoder.encode(report), as: UTF8.self)
        let digest = SHA256.hex(reportJSON)
        let ranOn = report.toolstackAndHost
        // A host is one tester's machine with one toolstack: a local libvirt URI does not name the machine.
        let hostKey = "\(tester)\n\(report.host.hostname)\n\(ranOn)"
        let facts = String(decoding: try JSONCoders.makeEncoder().encode(report.host), as: UTF8.self)
        let identity = submission.identity
        let now = ISO8601.format(Date())
        return try await database.with { connection in
            try connection.transaction {
                if let row =
                    try connection.execute("SELECT id, report_sha256 FROM runs WHERE identity = ?", [.text(identity)])
                    .first
                {
                    let id = row[0].integer ?? 0
                    return row[1].text == digest ? .alreadyStored(id: id) : .conflict(id: id)
                }
                try connection.execute(
                    """
                    INSERT INTO hosts (host_key, tester, ran_on, facts) VALUES (?, ?, ?, ?)
                    ON CONFLICT (host_key) DO UPDATE SET facts = excluded.facts
                    """,
                    [.text(hostKey), .text(tester), .text(ranOn), .text(facts)]
                )
                let host = try connection.execute("SELECT id FROM hosts WHERE host_key = ?", [.text(hostKey)])
                let inserted = try connection.execute(
                    """
                    INSERT INTO runs (identity, run_id, release, plan, host, tester, started_at, report_sha256, report,
                        archive, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                    """,
                    [
                        .text(identity), .text(report.runID), .text(report.release), .text(report.plan),
                        host.first?[0] ?? .null, .text(tester), .text(ISO8601.format(report.startedAt)), .text(digest),
                        .text(reportJSON), archive.map(SQLValue.blob) ?? .null, .text(now),
                    ]
                )
                guard let id = inserted.first?[0].integer else { throw SQLError("INSERT INTO runs returned no id") }
                // A statement per 100 cases, not per case: each statement is a round trip to PostgreSQL.
                let rows = report.cases.enumerated()
                    .map { position, testCase -> [SQLValue] in
                        [
                            .integer(id), .integer(Int64(position)), .text(testCase.id), .text(testCase.area),
                            .text(testCase.title), .text(testCase.status.rawValue),
                            Self.failure(testCase, runID: report.runID).map(SQLValue.text) ?? .null,
                        ]
                    }
                for start in stride(from: 0, to: rows.count, by: 100) {
                    let chunk = rows[start..<min(start + 100, rows.count)]
                    try connection.execute(
                        "INSERT INTO case_results (run, position, case_id, area, title, status, failure) VALUES "
                            + Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", "),
                        chunk.flatMap { $0 }
                    )
                }
                return .stored(id: id)
            }
        }
    }

    /// How a case failed, alike across runs: its status and its failing step's label, with the run's id (part of
    /// every object's name) taken out. Nil when it did not fail or break.
    static func failure(_ testCase: CaseResult, runID: String) -> String? {
        guard let outcome = testCase.status.outcome, outcome != .worked else { return nil }
        let step = (testCase.steps + testCase.teardown).first { $0.status != .pass }?.label ?? ""
        return "\(testCase.status.rawValue): "
            + step.replacingOccurrences(of: "xentest-\(runID)-", with: "xentest-RUN-")
    }
}

/// What the store refuses.
public enum StoreError: Error, CustomStringConvertible {
    case testerExists(String)

    /// The message.
    public var description: String {
        switch self {
        case .testerExists(let name): "a tester named '\(name)' exists already (token remove \(name) first)"
        }
    }
}
