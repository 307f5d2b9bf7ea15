import Foundation
import XentestReport
import XentestRun
import XentestSupport

/// A response before it is written: status, content type, body, extra headers.
public struct ServiceResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// `text/html; charset=utf-8`, `application/json`, ...
    public var contentType: String
    /// The body.
    public var body: Data
    /// Headers besides Content-Type and the security ones every response has.
    public var headers: [String: String] = [:]

    static func html(_ text: String, status: Int = 200) -> ServiceResponse {
        ServiceResponse(status: status, contentType: "text/html; charset=utf-8", body: Data(text.utf8))
    }

    static func json(_ value: some Encodable, status: Int = 200) -> ServiceResponse {
        let encoder = JSONCoders.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return ServiceResponse(status: status, contentType: "application/json", body: body)
    }

    static func error(_ status: Int, _ message: String, html: Bool = false) -> ServiceResponse {
        html
            ? .html(Pages.page("Error \(status)", ["<p>\(Pages.h(message))</p>"]), status: status)
            : .json(["error": message], status: status)
    }
}

/// The results service without its transport: a request's method, path, token and body in, a response out. The
/// HTTP server (`ResultsServer`) is a thin layer over it.
public struct ResultsService: Sendable {
    /// Where runs are kept.
    public let store: ResultStore
    /// What uploads may be.
    public let uploads: UploadCheck

    /// A service over `store` with these upload limits.
    public init(store: ResultStore, uploads: UploadCheck = UploadCheck()) {
        self.store = store
        self.uploads = uploads
    }

    /// Answers one request. `path` is percent-encoded as it came; `body` reads the body (bounded by the caller).
    public func respond(method: String, path: String, bearer: String?, body: @Sendable () async throws -> Data) async
        -> ServiceResponse
    {
        let parts = path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        let isAPI = parts.first == "api"
        do {
            if method == "POST" {
                guard parts == ["api", "runs"] else { return .error(405, "only POST /api/runs takes uploads") }
                return try await submit(bearer: bearer, body: body)
            }
            guard method == "GET" || method == "HEAD" else { return .error(405, "method \(method) is not served") }
            return try await (isAPI ? api(Array(parts.dropFirst())) : page(parts))
                ?? .error(404, "no such page: \(path)", html: !isAPI)
        } catch let refusal as UploadRefusal { return .error(refusal.status, refusal.message) } catch {
            return .error(500, "the server failed: \(error)", html: !isAPI)
        }
    }

    private func submit(bearer: String?, body: @Sendable () async throws -> Data) async throws -> ServiceResponse {
        guard let bearer, let tester = try await store.tester(token: bearer) else {
            var response = ServiceResponse.error(
                401,
                "a tester's token is needed (Authorization: Bearer TOKEN); the server's keeper gives one with "
                    + "`xentest-server token add NAME`"
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        }
        let (submission, archive) = try uploads.check(try await body())
        let outcome = try await store.submit(submission, archive: archive, tester: tester)
        switch outcome {
        case .stored(let id): return .json(SubmitReply(run: id, url: "/runs/\(id)", stored: "new"), status: 201)
        case .alreadyStored(let id):
            return .json(SubmitReply(run: id, url: "/runs/\(id)", stored: "already"), status: 200)
        case .conflict(let id):
            return .error(
                409,
                "run \(submission.report.runID) of \(submission.report.host.hostname) started at "
                    + "\(ISO8601.format(submission.report.startedAt)) is stored already (/runs/\(id)) with other content"
            )
        }
    }

    private func page(_ parts: [String]) async throws -> ServiceResponse? {
        switch parts.count {
        case 0: return .html(Pages.index(try await store.releases()))
        case 1 where parts[0] == "hosts":
            return .html(Pages.hosts(try await store.hosts(), runs: try await store.runs(hosts: nil)))
        case 2 where parts[0] == "hosts":
            guard let id = Int64(parts[1]), let host = try await store.hosts([id]).first else { return nil }
            let runs = try await store.runs(hosts: [id])
            return .html(Pages.host(host, runs: runs, cases: try await store.cases(hosts: [id])))
        case 2 where parts[0] == "releases": return .html(Pages.matrix(try await matrix(parts[1])))
        case 3 where parts[0] == "releases" && parts[2] == "regressions":
            return .html(Pages.regressions(release: parts[1], hosts: try await regressions(parts[1])))
        case 2 where parts[0] == "cases":
            guard let history = try await caseHistory(parts[1]) else { return nil }
            return .html(Pages.caseHistory(parts[1], hosts: history.hosts, verdicts: history.verdicts))
        case 2 where parts[0] == "runs":
            guard let id = Int64(parts[1]), let run = try await store.run(id) else { return nil }
            return .html(HTMLReporter.render(run.result))
        case 4 where parts[0] == "runs" && parts[2] == "cases":
            guard let id = Int64(parts[1]), let run = try await store.run(id),
                let testCase = run.result.cases.first(where: { $0.id == parts[3] })
            else { return nil }
            return .html(Pages.runCase(testCase, run: run.ref, tester: run.tester, result: run.result))
        case 3 where parts[0] == "runs" && parts[2] == "archive.tar.gz":
            guard let id = Int64(parts[1]), let archive = try await store.archive(id) else { return nil }
            return ServiceResponse(status: 200, contentType: "application/gzip", body: Data(archive))
        default: return nil
        }
    }

    /// Every verdict of one case on every host that ran it, newest first, each labelled from its host's history;
    /// nil when no stored run has the case.
    func caseHistory(_ caseID: String) async throws -> (hosts: [StoredHost], verdicts: [(CaseVerdict, HistoryLabel?)])?
    {
        let cases = try await store.cases(hosts: nil, caseID: caseID)
        guard !cases.isEmpty else { return nil }
        let hostIDs = Array(Set(cases.map(\.verdict.run.hostID)))
        let all = try await store.cases(hosts: hostIDs)
        let runs = try await store.runs(hosts: hostIDs)
        let histories = Dictionary(
            uniqueKeysWithValues: hostIDs.map { hostID in
                (
                    hostID,
                    CaseHistory(
                        hostRuns: runs.filter { $0.hostID == hostID },
                        verdicts: all.filter { $0.verdict.run.hostID == hostID }.map(\.verdict)
                    )
                )
            }
        )
        let verdicts = cases.map(\.verdict).sorted { ($0.run.startedAt, $0.run.id) > ($1.run.startedAt, $1.run.id) }
        return (try await store.hosts(hostIDs), verdicts.map { ($0, histories[$0.run.hostID]?.label(for: $0)) })
    }

    /// The matrix of `release`.
    func matrix(_ release: String) async throws -> ReleaseMatrix {
        let hostIDs = try await store.hostIDs(release: release)
        return ReleaseMatrix(
            release: release,
            hosts: try await store.hosts(hostIDs),
            runs: try await store.runs(hosts: hostIDs),
            cases: try await store.cases(hosts: hostIDs)
        )
    }

    /// Each host that ran `release`: its newest run of it, the newest run of the release before on the same host,
    /// and how each case changed between them.
    func regressions(_ release: String) async throws -> [(StoredHost, RunRef, RunRef?, BaselineComparison?)] {
        let hostIDs = try await store.hostIDs(release: release)
        let hosts = try await store.hosts(hostIDs)
        let runs = try await store.runs(hosts: hostIDs)
        var out: [(StoredHost, RunRef, RunRef?, BaselineComparison?)] = []
        for host in hosts {
            let hostRuns = runs.filter { $0.hostID == host.id }
            guard let newest = hostRuns.filter({ $0.release == release }).max(by: { $0.startedAt < $1.startedAt }),
                let now = try await store.run(newest.id)
            else { continue }
            let baseline = CaseHistory(hostRuns: hostRuns, verdicts: []).baselineRun(before: release)
            guard let baseline, let then = try await store.run(baseline.id) else {
                out.append((host, newest, nil, nil))
                continue
            }
            out.append(
                (
                    host, newest, baseline,
                    BaselineComparison(baseline: BaselineRun(then.result), cases: now.result.cases)
                )
            )
        }
        return out
    }
}

/// The reply to an upload.
struct SubmitReply: Codable {
    /// The server's number for the run.
    var run: Int64
    /// Its page.
    var url: String
    /// `new`, or `already` when the same run was stored before.
    var stored: String
}
