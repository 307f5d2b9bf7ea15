import Foundation
import Testing
import XentestRun
import XentestSupport

/// `xentest-server` and `xentest submit` as processes, talking HTTP, over a real SQLite file; the pages in Chromium.
@Suite("Results server end to end", .serialized) struct ServerCommandTests {
    let scratch: URL

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "xentest-server-tests-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    var data: String { scratch.appendingPathComponent("data").path }

    func token(_ name: String) async throws -> String {
        let added = try await XentestProcess.run(["token", "add", name, "--data", data], program: "xentest-server")
        #expect(added.status == 0, "\(added)")
        return added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A real run of smoke on libvirt's test driver, submitted on the way with --submit.
    func smokeRun(submitTo url: String, token: String) async throws -> (ProcessResult, String) {
        let results = scratch.appendingPathComponent("results").path
        let run = try await XentestProcess.run(
            ["run", "smoke", "--connect", "test:///default", "--results", results, "--submit", url],
            environment: ["XENTEST_TOKEN": token]
        )
        let directory = try FileManager.default.contentsOfDirectory(atPath: results).sorted().last ?? ""
        return (run, results + "/" + directory)
    }

    @Test("a run goes from `xentest run --submit` to the server once, and only with a token") func submitOnce()
        async throws
    {
        let alice = try await token("alice")
        let server = try ServerProcess(["--data", data])
        let (run, directory) = try await smokeRun(submitTo: server.url, token: alice)
        #expect(run.status == 0, "\(run)")
        #expect(run.stderr.contains("submitted: \(server.url)/runs/1"), "\(run)")

        let again = try await XentestProcess.run(
            ["submit", directory, "--to", server.url],
            environment: ["XENTEST_TOKEN": alice]
        )
        #expect(
            again.status == 0 && again.stderr.contains("submitted before (stored once): \(server.url)/runs/1"),
            "\(again)"
        )
        let wrong = try await XentestProcess.run(
            ["submit", directory, "--to", server.url],
            environment: ["XENTEST_TOKEN": alice + "0"]
        )
        #expect(wrong.status == 1 && wrong.stderr.contains("refused the run (HTTP 401)"), "\(wrong)")
        let none = try await XentestProcess.run(
            ["run", "smoke", "--connect", "test:///default", "--submit", server.url],
            environment: ["XENTEST_TOKEN": ""]
        )
        #expect(none.status == 2 && none.stderr.contains("a token is needed to submit"), "\(none)")
        #expect(!none.stderr.contains("results:"), "nothing ran: \(none)")

        let releases = try server.get("/api/releases")
        #expect(releases.status == 200 && releases.body == #"[{"hosts":1,"release":"4.3.0-rc6","runs":1}]"#)
        let report = try server.get("/api/runs/1")
        let stored = try JSONCoders.makeDecoder().decode(RunResult.self, from: Data(report.body.utf8))
        #expect(stored == (try RunResult.load(run: directory + "/report.json")))
        let archive = try server.get("/runs/1/archive.tar.gz")
        #expect(archive.status == 200)
        // The rest of the API: each answers JSON about this one run.
        let caseID = try #require(stored.cases.first?.id)
        let history = try server.get("/api/cases/\(caseID)/history")
        let entries = try JSONSerialization.jsonObject(with: Data(history.body.utf8)) as? [[String: Any]]
        #expect(history.status == 200 && entries?.count == 1 && entries?.first?["caseID"] as? String == caseID)
        let host = try server.get("/api/hosts/1/history")
        let hostHistory = try JSONSerialization.jsonObject(with: Data(host.body.utf8)) as? [String: Any]
        #expect((hostHistory?["verdicts"] as? [Any])?.count == stored.cases.count, "\(host)")
        let hosts = try server.get("/api/hosts")
        #expect(hosts.status == 200 && hosts.body.contains(#""tester":"alice""#), "\(hosts)")
        let regressions = try server.get("/api/releases/4.3.0-rc6/regressions")
        #expect(regressions.status == 200 && regressions.body.contains(#""baseline""#) == false, "\(regressions)")
        for page in [
            "/", "/hosts", "/hosts/1", "/cases/\(caseID)", "/runs/1", "/runs/1/cases/\(caseID)",
            "/releases/4.3.0-rc6/regressions",
        ] { #expect(try server.get(page).status == 200, "\(page)") }
        #expect(try server.get("/api/runs/99").status == 404)
        #expect(try server.get("/no/such/page").status == 404)
    }

    @Test("a server killed mid-upload keeps every acknowledged run and none of the half one") func killedMidUpload()
        async throws
    {
        let alice = try await token("alice")
        var server = try ServerProcess(["--data", data])
        let (run, directory) = try await smokeRun(submitTo: server.url, token: alice)
        #expect(run.stderr.contains("submitted: "), "\(run)")

        // A second run, its body sent halfway (Content-Length promises more), then the server is killed.
        var second = try RunResult.load(run: directory)
        second.runID = "half01"
        let body = try JSONCoders.makeEncoder().encode(RunSubmission(report: second))
        let port = try #require(server.url.split(separator: ":").last.map(String.init))
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sender.arguments = [
            "python3", "-c",
            """
            import socket, sys, time
            body = sys.stdin.buffer.read()
            s = socket.create_connection(("127.0.0.1", \(port)))
            s.sendall(b"POST /api/runs HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer \(alice)\\r\\n"
                      + b"Content-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body))
            s.sendall(body[: len(body) // 2])
            print("half sent", flush=True)
            time.sleep(30)
            """,
        ]
        let input = Pipe()
        let said = Pipe()
        sender.standardInput = input
        sender.standardOutput = said
        try sender.run()
        input.fileHandleForWriting.write(body)
        try input.fileHandleForWriting.close()
        let line = String(decoding: said.fileHandleForReading.availableData, as: UTF8.self)
        #expect(line.contains("half sent"))
        try await Task.sleep(for: .milliseconds(300))
        server.stop(signal: SIGKILL)
        sender.terminate()

        server = try ServerProcess(["--data", data])
        let releases = try server.get("/api/releases")
        #expect(releases.body == #"[{"hosts":1,"release":"4.3.0-rc6","runs":1}]"#, "\(releases)")
        #expect(try server.get("/api/runs/2").status == 404)
        #expect(try server.get("/api/runs/1").status == 200)
    }

    @Test("uploads that are too large, malformed or from a newer schema get their status and a clear message")
    func refusedOverHTTP() async throws {
        let alice = try await token("alice")
        let server = try ServerProcess(["--data", data, "--max-upload-mib", "1"])
        let large = try server.post(Data(repeating: 0x20, count: 2 << 20), token: alice)
        #expect(large.status == 413 && large.body.contains("more than this server takes (1048576)"), "\(large)")
        let malformed = try server.post(Data("{\"report\": ".utf8), token: alice)
        #expect(malformed.status == 400, "\(malformed)")
        let future = try server.post(Data(#"{"report": {"schemaVersion": 9}}"#.utf8), token: alice)
        #expect(future.status == 422 && future.body.contains("newer than this server reads"), "\(future)")
        let anonymous = try server.post(Data("{}".utf8), token: nil)
        #expect(anonymous.status == 401, "\(anonymous)")
        #expect(try server.get("/").status == 200, "the server still answers")
        #expect(try server.get("/api/releases").body == "[]")
    }

    static let chromium =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")

    static var seleniumImports: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import selenium"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test(
        "the matrix, a cell's case page, a case's history and a hostile upload, in Chromium",
        .enabled(
            if: chromium && seleniumImports,
            "needs apt's chromium and chromium-driver, and selenium: pip install selenium"
        )
    ) func browser() async throws {
        let alice = try await token("alice")
        let server = try ServerProcess(["--data", data])
        let (run, directory) = try await smokeRun(submitTo: server.url, token: alice)
        #expect(run.stderr.contains("submitted: "), "\(run)")
        // The same host's run of the release before, where every case worked; and another host's run of this one.
        let real = try RunResult.load(run: directory)
        var before = real
        before.release = "4.3.0-rc5"
        before.runID = "rc5run"
        before.startedAt = real.startedAt.addingTimeInterval(-86_400)
        for index in before.cases.indices where before.cases[index].status != .skip {
            before.cases[index].status = .pass
        }
        before.summary = RunSummary(before.cases)
        var other = real
        other.runID = "other1"
        other.host.hostname = "dom0-<b>other</b>"
        // This host's rc6 again, later, with the first case that passed now failing (flaky: it passed in the real
        // run of the same release on the same host), its evidence hostile.
        let payload =
            #"<script>alert(1)</script><img src=x onerror="document.body.setAttribute('data-ran','')"><b id="injected">x</b>"#
        var now = real
        now.runID = "rc6bad"
        now.startedAt = real.startedAt.addingTimeInterval(600)
        let index = try #require(now.cases.firstIndex { $0.status == .pass })
        now.cases[index].status = .fail
        now.cases[index].reason = "console said " + payload
        now.cases[index].steps[0].status = .fail
        now.cases[index].steps[0].message = payload
        now.cases[index].steps[0].evidence
            .append(
                Evidence(
                    kind: "command",
                    call: "xl",
                    arguments: [payload],
                    status: 1,
                    output: payload,
                    error: payload,
                    durationSeconds: 0.1
                )
            )
        now.summary = RunSummary(now.cases)
        for result in [before, other, now] {
            let sent = try await XentestProcess.run(
                ["submit", try writeRun(result, into: scratch), "--to", server.url],
                environment: ["XENTEST_TOKEN": alice]
            )
            #expect(sent.status == 0, "\(sent)")
        }
        let failed = now.cases[index].id
        let matrix = try server.get("/api/releases/4.3.0-rc6/matrix")
        let hosts = try #require(try JSONSerialization.jsonObject(with: Data(matrix.body.utf8)) as? [String: Any])
        let columns = try #require(hosts["columns"] as? [[String: Any]])
        let runIDs = columns.compactMap { ($0["run"] as? [String: Any])?["runID"] as? String }
        #expect(Set(runIDs) == ["rc6bad", "other1"])
        let newRun = try #require(columns.first { ($0["run"] as? [String: Any])?["runID"] as? String == "rc6bad" })
        let newID = try #require((newRun["run"] as? [String: Any])?["id"] as? Int)
        let expectations: [String: Any] = [
            "release": "4.3.0-rc6", "hosts": [real.host.hostname, other.host.hostname], "cases": real.cases.map(\.id),
            "labels": [failed: "pass in \(real.runID)"], "cell": failed, "payload": payload,
            "hostile": "/runs/\(newID)/cases/\(failed)",
        ]
        let file = scratch.appendingPathComponent("expected.json")
        try JSONSerialization.data(withJSONObject: expectations).write(to: file)
        let screenshots = XentestProcess.repositoryRoot.appendingPathComponent("results/screenshots/server").path
        let script = XentestProcess.repositoryRoot.appendingPathComponent("Tests/tools/check_server.py").path
        // python3 as PATH finds it: the one scripts/setup installed selenium for.
        let checked = try await XentestProcess.run(
            ["python3", script, server.url, file.path, screenshots],
            program: "/usr/bin/env",
            timeout: 180
        )
        #expect(checked.status == 0, "\(checked)")
        for line in [
            "ok: control page: the checks see a script run", "ok: matrix: no script ran",
            "ok: matrix: 2 host columns, expected 2", "ok: matrix: \(failed) is labelled 'pass in \(real.runID)'",
            "ok: case page: a click opens a step's evidence", "ok: hostile case page: no script ran",
            "ok: hostile case page: the payload shows as text: \(payload)",
        ] { #expect(checked.stdout.contains(line), "\(line)\n\(checked)") }
    }

    /// The server .ci/run started and fed its own rc6 runs (test driver, QEMU, the lab through xl and libvirt).
    static let ciServer = ProcessInfo.processInfo.environment["XENTEST_CI_RESULTS_SERVER"]
        .flatMap { $0.isEmpty ? nil : $0 }

    @Test(
        "CI's own rc6 runs, submitted by .ci/run, read back from the matrix in Chromium: a column per backend",
        .enabled(if: ciServer != nil && chromium && seleniumImports, "only in .ci/run, which starts the server")
    ) func ciMatrix() async throws {
        let server = try #require(Self.ciServer)
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["--silent", "--fail", server + "/api/releases/4.3.0-rc6/matrix"]
        let pipe = Pipe()
        curl.standardOutput = pipe
        try curl.run()
        let body = pipe.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        let matrix = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let columns = try #require(matrix["columns"] as? [[String: Any]])
        let rows = try #require(matrix["rows"] as? [[String: Any]])
        let ranOn = columns.compactMap { ($0["host"] as? [String: Any])?["ranOn"] as? String }
        for backend in ["libvirt test:///default", "libvirt qemu:///system", "xl (Xen ", "libvirt xen+ssh"] {
            #expect(ranOn.contains { $0.hasPrefix(backend) }, "no column for \(backend): \(ranOn)")
        }
        let hostnames = columns.compactMap {
            (($0["host"] as? [String: Any])?["facts"] as? [String: Any])?["hostname"] as? String
        }
        let caseIDs = rows.compactMap { $0["caseID"] as? String }
        #expect(caseIDs.count >= 30, "rc6 has 33 cases: \(caseIDs)")
        let expectations: [String: Any] = [
            "release": "4.3.0-rc6", "hosts": hostnames, "cases": caseIDs, "cell": caseIDs.first ?? "",
        ]
        let file = scratch.appendingPathComponent("expected.json")
        try JSONSerialization.data(withJSONObject: expectations).write(to: file)
        let checked = try await XentestProcess.run(
            [
                "python3", XentestProcess.repositoryRoot.appendingPathComponent("Tests/tools/check_server.py").path,
                server, file.path, XentestProcess.repositoryRoot.appendingPathComponent("results/screenshots/ci").path,
            ],
            program: "/usr/bin/env",
            timeout: 180
        )
        #expect(checked.status == 0, "\(checked)")
        #expect(
            checked.stdout.contains("ok: matrix: \(hostnames.count) host columns, expected \(hostnames.count)"),
            "\(checked)"
        )
    }
}
