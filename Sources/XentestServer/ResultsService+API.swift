import Foundation
import XentestPlan
import XentestRun

/// The JSON API: the pages' content for programs (README, "The results server's API").
extension ResultsService {
    func api(_ parts: [String]) async throws -> ServiceResponse? {
        switch parts.count {
        case 1 where parts[0] == "releases": return .json(try await store.releases())
        case 1 where parts[0] == "hosts": return .json(try await store.hosts().map(APIHost.init))
        case 3 where parts[0] == "releases" && parts[2] == "matrix": return .json(APIMatrix(try await matrix(parts[1])))
        case 3 where parts[0] == "releases" && parts[2] == "regressions":
            let hosts = try await regressions(parts[1])
                .map { host, run, baseline, comparison in
                    APIRegressions(host: APIHost(host), run: run, baseline: baseline, cases: comparison?.cases)
                }
            return .json(hosts)
        case 2 where parts[0] == "runs":
            guard let id = Int64(parts[1]), let run = try await store.run(id) else { return nil }
            return .json(run.result)
        case 3 where parts[0] == "hosts" && parts[2] == "history":
            guard let id = Int64(parts[1]), let host = try await store.hosts([id]).first else { return nil }
            let runs = try await store.runs(hosts: [id])
            return .json(APIHistory(history: runs, cases: try await store.cases(hosts: [id]), host: host))
        case 3 where parts[0] == "cases" && parts[2] == "history":
            guard let history = try await caseHistory(parts[1]) else { return nil }
            return .json(history.verdicts.map { APIVerdict($0.0, label: $0.1) })
        default: return nil
        }
    }
}

/// A host in the API.
struct APIHost: Codable {
    var id: Int64
    var tester: String
    var ranOn: String
    var facts: HostFacts

    init(_ host: StoredHost) {
        id = host.id
        tester = host.tester
        ranOn = host.ranOn
        facts = host.facts
    }
}

/// A verdict in the API, with its label.
struct APIVerdict: Codable {
    var caseID: String
    var run: RunRef
    var status: CaseStatus
    var label: String?
    var labelKind: String?
    var labelRun: Int64?
    var url: String

    init(_ verdict: CaseVerdict, label: HistoryLabel?) {
        caseID = verdict.caseID
        run = verdict.run
        status = verdict.status
        self.label = label?.text
        labelKind = label?.kind
        labelRun = label?.run?.id
        url = Pages.caseLink(run: verdict.run.id, caseID: verdict.caseID)
    }
}

/// A release's matrix in the API.
struct APIMatrix: Codable {
    struct Column: Codable {
        var host: APIHost
        var run: RunRef
        var runs: Int
    }
    struct Row: Codable {
        var caseID: String
        var area: String
        var title: String
        var cells: [APIVerdict?]
    }
    var release: String
    var columns: [Column]
    var rows: [Row]

    init(_ matrix: ReleaseMatrix) {
        release = matrix.release
        columns = matrix.columns.map { Column(host: APIHost($0.host), run: $0.run, runs: $0.runs) }
        rows = matrix.rows.map { row in
            Row(
                caseID: row.caseID,
                area: row.area,
                title: row.title,
                cells: row.cells.map { $0.map { APIVerdict($0.verdict, label: $0.label) } }
            )
        }
    }
}

/// One host's regressions in the API.
struct APIRegressions: Codable {
    var host: APIHost
    var run: RunRef
    var baseline: RunRef?
    var cases: [BaselineComparison.CaseChange]?
}

/// One host's history in the API.
struct APIHistory: Codable {
    var host: APIHost
    var runs: [RunRef]
    var verdicts: [APIVerdict]

    init(history runs: [RunRef], cases: [StoredCase], host: StoredHost) {
        let history = CaseHistory(hostRuns: runs, verdicts: cases.map(\.verdict))
        self.host = APIHost(host)
        self.runs = runs
        verdicts = cases.map { APIVerdict($0.verdict, label: history.label(for: $0.verdict)) }
    }
}
