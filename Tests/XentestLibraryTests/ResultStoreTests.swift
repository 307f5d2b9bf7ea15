import Foundation
import Testing
@testable import XentestRun
@testable import XentestServer
import XentestSupport

/// The results store on the real databases: SQLite, and PostgreSQL when scripts/postgres runs one.
@Suite("Results store (SQLite and PostgreSQL)") struct ResultStoreTests {
    @Test("a run is stored whole and read back as sent", arguments: TestDatabases.kinds) func storeAndRead(kind: String)
        async throws
    {
        let (database, drop) = try TestDatabases.fresh(kind)
        defer { drop() }
        let store = try await ResultStore(database: database)
        let run = storedRun("aa0001", release: "4.17.0-rc6", minutes: 0, [("boot", .pass), ("net-ping", .fail)])
        let outcome = try await store.submit(RunSubmission(report: run), archive: [0x1f, 0x8b, 1, 2], tester: "alice")
        guard case .stored(let id) = outcome else {
            Issue.record("not stored: \(outcome)")
            return
        }
        let read = try #require(try await store.run(id))
        #expect(read.result == run)
        #expect(read.tester == "alice")
        #expect(try await store.archive(id) == [0x1f, 0x8b, 1, 2])
        #expect(try await store.counts() == (1, 2))
        let releases = try await store.releases()
        #expect(releases == [StoredRelease(release: "4.17.0-rc6", runs: 1, hosts: 1)])
    }

    @Test("the same run twice is one run; the same run with other content is refused", arguments: TestDatabases.kinds)
    func idempotent(kind: String) async throws {
        let (database, drop) = try TestDatabases.fresh(kind)
        defer { drop() }
        let store = try await ResultStore(database: database)
        let run = storedRun("aa0002", release: "4.17.0-rc6", minutes: 0, [("boot", .pass)])
        let first = try await store.submit(RunSubmission(report: run), archive: nil, tester: "alice")
        let again = try await store.submit(RunSubmission(report: run), archive: nil, tester: "alice")
        var changed = run
        changed.cases[0].status = .fail
        changed.summary = RunSummary(changed.cases)
        let conflict = try await store.submit(RunSubmission(report: changed), archive: nil, tester: "alice")
        guard case .stored(let id) = first else {
            Issue.record("not stored: \(first)")
            return
        }
        #expect(again == .alreadyStored(id: id))
        #expect(conflict == .conflict(id: id))
        #expect(try await store.counts() == (1, 1))
    }

    @Test("a run that fails halfway leaves nothing: no run, no case, no host", arguments: TestDatabases.kinds)
    func atomic(kind: String) async throws {
        let (database, drop) = try TestDatabases.fresh(kind)
        defer { drop() }
        let store = try await ResultStore(database: database)
        // A trigger of the database's own refuses the last case's row, after the run's and the first cases' rows.
        let statements =
            database.dialect == .sqlite
            ? [
                """
                CREATE TRIGGER boom BEFORE INSERT ON case_results WHEN NEW.case_id = 'boom'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """
            ]
            : [
                """
                CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.case_id = 'boom' THEN
                RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql
                """, "CREATE TRIGGER boom BEFORE INSERT ON case_results FOR EACH ROW EXECUTE FUNCTION boom()",
            ]
        try await database.with { connection in for sql in statements { try connection.execute(sql, []) } }
        let run = storedRun(
            "aa0003",
            release: "4.17.0-rc6",
            minutes: 0,
            [("boot", .pass), ("net", .pass), ("boom", .pass)]
        )
        await #expect(throws: SQLError.self) {
            try await store.submit(RunSubmission(report: run), archive: [0x1f, 0x8b], tester: "alice")
        }
        #expect(try await store.counts() == (0, 0))
        #expect(try await store.hosts().isEmpty)
        #expect(try await store.releases().isEmpty)
    }

    @Test("tokens: the store keeps a digest, finds the tester by token, refuses a second of one name, removes")
    func tokens() async throws {
        for kind in TestDatabases.kinds {
            let (database, drop) = try TestDatabases.fresh(kind)
            defer { drop() }
            let store = try await ResultStore(database: database)
            let token = try await store.addTester("alice")
            #expect(token.hasPrefix("xt_") && token.count == 67)
            #expect(try await store.tester(token: token) == "alice")
            #expect(try await store.tester(token: token + "x") == nil)
            await #expect(throws: StoreError.self) { _ = try await store.addTester("alice") }
            let rows = try await database.with { try $0.execute("SELECT * FROM testers", []) }
            #expect(!rows.flatMap { $0 }.contains(.text(token)), "the token itself is stored on \(kind)")
            #expect(rows.flatMap { $0 }.contains(.text(SHA256.hex(token))))
            #expect(try await store.removeTester("alice"))
            #expect(try await store.tester(token: token) == nil)
        }
    }

    @Test("history labels across release candidates on one host, in the matrix", arguments: TestDatabases.kinds)
    func labels(kind: String) async throws {
        let (database, drop) = try TestDatabases.fresh(kind)
        defer { drop() }
        let store = try await ResultStore(database: database)
        let runs = [
            storedRun(
                "rc4aaa",
                release: "4.17.0-rc4",
                minutes: 0,
                [("regr", .pass), ("like", .pass), ("never", .fail), ("untested", .pass), ("flaky", .pass)]
            ),
            storedRun(
                "rc5aaa",
                release: "4.17.0-rc5",
                minutes: 10,
                [("regr", .pass), ("like", .fail), ("never", .fail), ("untested", .skip), ("flaky", .pass)]
            ),
            storedRun(
                "rc6old",
                release: "4.17.0-rc6",
                minutes: 20,
                [("regr", .fail), ("like", .fail), ("never", .fail), ("untested", .skip), ("flaky", .pass)]
            ),
            storedRun(
                "rc6new",
                release: "4.17.0-rc6",
                minutes: 30,
                [
                    ("regr", .fail), ("like", .fail), ("never", .error), ("untested", .fail), ("flaky", .timeout),
                    ("ok", .pass),
                ]
            ),
            // Another host's passes change nothing on this one.
            storedRun("otherh", release: "4.17.0-rc6", host: "dom0-b", minutes: 5, [("never", .pass)]),
        ]
        var ids: [String: Int64] = [:]
        for run in runs {
            guard case .stored(let id) = try await store.submit(RunSubmission(report: run), archive: nil, tester: "t")
            else {
                Issue.record("not stored")
                return
            }
            ids[run.runID] = id
        }
        let service = ResultsService(store: store)
        let matrix = try await service.matrix("4.17.0-rc6")
        #expect(matrix.columns.map(\.host.facts.hostname) == ["dom0-a", "dom0-b"])
        #expect(matrix.columns.first?.run.runID == "rc6new")
        #expect(matrix.columns.first?.runs == 2)
        let labels = Dictionary(
            uniqueKeysWithValues: matrix.rows.map { row in (row.caseID, row.cells[0]?.label?.text ?? "-") }
        )
        #expect(
            labels == [
                "regr": "REGR. vs rc5aaa", "like": "like rc6old", "never": "never pass",
                "untested": "baseline untested", "flaky": "pass in rc6old", "ok": "-",
            ]
        )
        #expect(matrix.rows.first { $0.caseID == "ok" }?.cells[1] == nil, "dom0-b's run has no case ok")

        let regressions = try await service.regressions("4.17.0-rc6")
        let host = try #require(regressions.first { $0.0.facts.hostname == "dom0-a" })
        #expect(host.2?.runID == "rc5aaa")
        #expect(host.3?.cases(.regression).map(\.id) == ["regr", "flaky"])
        #expect(host.3?.cases(.stillFailing).map(\.id) == ["like", "never"])
        #expect(host.3?.cases(.new).map(\.id) == ["untested", "ok"])
        let other = try #require(regressions.first { $0.0.facts.hostname == "dom0-b" })
        #expect(other.2 == nil, "dom0-b ran no earlier release: baseline untested")
    }
}
