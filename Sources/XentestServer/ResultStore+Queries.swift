import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// A host as the server knows it: one tester's machine with one toolstack (a column of the matrix).
public struct StoredHost: Sendable, Hashable {
    /// The server's number for it (`/hosts/<id>`).
    public var id: Int64
    /// Who submits its runs.
    public var tester: String
    /// `xl on dom0-17`, `libvirt xen+ssh (Xen 4.17.7) on lab` (`RunResult.toolstackAndHost`).
    public var ranOn: String
    /// Its facts, from its newest submission.
    public var facts: HostFacts
}

/// A case's verdict with where it stands in its run.
public struct StoredCase: Sendable, Hashable {
    /// The verdict, with its run.
    public var verdict: CaseVerdict
    /// The case's area.
    public var area: String
    /// The case's title.
    public var title: String
    /// Its place in its run (0-based).
    public var position: Int
}

/// A release and how much of it is stored.
public struct StoredRelease: Sendable, Hashable, Codable {
    /// `4.17.0-rc6`.
    public var release: String
    /// Runs stored.
    public var runs: Int
    /// Hosts that ran it.
    public var hosts: Int
}

extension ResultStore {
    /// Every release with its counts, newest first.
    public func releases() async throws -> [StoredRelease] {
        let rows = try await database.with { connection in
            try connection.execute("SELECT release, COUNT(*), COUNT(DISTINCT host) FROM runs GROUP BY release", [])
        }
        let releases = rows.map {
            StoredRelease(release: $0[0].text ?? "", runs: Int($0[1].integer ?? 0), hosts: Int($0[2].integer ?? 0))
        }
        return releases.sorted { ReleaseOrder.precedes($1.release, $0.release) }
    }

    /// Every host, or those with these ids.
    public func hosts(_ ids: [Int64]? = nil) async throws -> [StoredHost] {
        let (filter, parameters) = Self.inList("id", ids)
        let rows = try await database.with { connection in
            try connection.execute(
                "SELECT id, tester, ran_on, facts FROM hosts\(filter) ORDER BY tester, ran_on",
                parameters
            )
        }
        let decoder = JSONCoders.makeDecoder()
        return try rows.map { row in
            StoredHost(
                id: row[0].integer ?? 0,
                tester: row[1].text ?? "",
                ranOn: row[2].text ?? "",
                facts: try decoder.decode(HostFacts.self, from: Data((row[3].text ?? "").utf8))
            )
        }
    }

    /// The runs of these hosts (every host when nil), oldest first.
    public func runs(hosts ids: [Int64]?) async throws -> [RunRef] {
        let (filter, parameters) = Self.inList("host", ids)
        let rows = try await database.with { connection in
            try connection.execute(
                "SELECT id, run_id, release, started_at, host FROM runs\(filter) ORDER BY started_at, id",
                parameters
            )
        }
        return rows.map(Self.runRef)
    }

    /// The ids of the hosts that ran `release`.
    public func hostIDs(release: String) async throws -> [Int64] {
        let rows = try await database.with { connection in
            try connection.execute("SELECT DISTINCT host FROM runs WHERE release = ?", [.text(release)])
        }
        return rows.compactMap { $0[0].integer }
    }

    /// The verdicts of every case in the runs of these hosts (every host when nil), or of one case.
    public func cases(hosts ids: [Int64]?, caseID: String? = nil) async throws -> [StoredCase] {
        var (filter, parameters) = Self.inList("r.host", ids)
        if let caseID {
            filter += (filter.isEmpty ? " WHERE" : " AND") + " c.case_id = ?"
            parameters.append(.text(caseID))
        }
        let rows = try await database.with { [filter, parameters] connection in
            try connection.execute(
                """
                SELECT r.id, r.run_id, r.release, r.started_at, r.host, c.case_id, c.status, c.failure, c.area,
                    c.title, c.position FROM case_results c JOIN runs r ON r.id = c.run\(filter)
                ORDER BY r.started_at, r.id, c.position
                """,
                parameters
            )
        }
        return rows.map { row in
            StoredCase(
                verdict: CaseVerdict(
                    run: Self.runRef(row),
                    caseID: row[5].text ?? "",
                    status: CaseStatus(rawValue: row[6].text ?? "") ?? .error,
                    failure: row[7].text
                ),
                area: row[8].text ?? "",
                title: row[9].text ?? "",
                position: Int(row[10].integer ?? 0)
            )
        }
    }

    /// One run: where it stands, who sent it, and its report.
    public func run(_ id: Int64) async throws -> (ref: RunRef, tester: String, result: RunResult)? {
        let row = try await database.with { connection in
            try connection.execute(
                "SELECT id, run_id, release, started_at, host, tester, report FROM runs WHERE id = ?",
                [.integer(id)]
            )
            .first
        }
        guard let row else { return nil }
        let result = try JSONCoders.makeDecoder().decode(RunResult.self, from: Data((row[6].text ?? "").utf8))
        return (Self.runRef(row), row[5].text ?? "", result)
    }

    /// A run's archive (journal and evidence, `.tar.gz`), if it was sent one.
    public func archive(_ id: Int64) async throws -> [UInt8]? {
        try await database.with { connection in
            try connection.execute("SELECT archive FROM runs WHERE id = ?", [.integer(id)]).first?[0].blob
        }
    }

    /// How many runs and case verdicts are stored (the store's tests count them; the load benchmark reads the
    /// database itself).
    public func counts() async throws -> (runs: Int, cases: Int) {
        let row = try await database.with { connection in
            try connection.execute("SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM case_results)", []).first
        }
        return (Int(row?[0].integer ?? 0), Int(row?[1].integer ?? 0))
    }

    static func runRef(_ row: [SQLValue]) -> RunRef {
        RunRef(
            id: row[0].integer ?? 0,
            runID: row[1].text ?? "",
            release: row[2].text ?? "",
            startedAt: row[3].text ?? "",
            hostID: row[4].integer ?? 0
        )
    }

    /// ` WHERE column IN (?, ?)` and its parameters; nothing for nil (all), a clause that matches none for [].
    static func inList(_ column: String, _ ids: [Int64]?) -> (String, [SQLValue]) {
        guard let ids else { return ("", []) }
        guard !ids.isEmpty else { return (" WHERE 1 = 0", []) }
        return (" WHERE \(column) IN (" + ids.map { _ in "?" }.joined(separator: ", ") + ")", ids.map(SQLValue.integer))
    }
}
