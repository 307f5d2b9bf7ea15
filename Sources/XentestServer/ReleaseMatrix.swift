import XentestRun

/// A release's matrix: a column per host that ran it (its newest run of the release), a row per case, each cell
/// the verdict with its history label.
public struct ReleaseMatrix: Sendable {
    /// One host's column.
    public struct Column: Sendable {
        /// The host.
        public var host: StoredHost
        /// Its newest run of the release: the cells' run.
        public var run: RunRef
        /// How many runs of the release it has.
        public var runs: Int
    }

    /// One cell: a case in a column's run.
    public struct Cell: Sendable {
        /// The verdict.
        public var verdict: CaseVerdict
        /// Its history label, for a case that failed or broke.
        public var label: HistoryLabel?
    }

    /// One case's row.
    public struct Row: Sendable {
        /// The case's id.
        public var caseID: String
        /// Its area.
        public var area: String
        /// Its title.
        public var title: String
        /// A cell per column, nil where that host's run had no such case.
        public var cells: [Cell?]
    }

    /// The release.
    public var release: String
    /// The hosts, by tester then toolstack and host.
    public var columns: [Column]
    /// The cases, by area (in the order areas first appear) then by their place in the runs.
    public var rows: [Row]

    /// The matrix of `release` from the hosts that ran it, every run of those hosts and every verdict in them
    /// (other releases too: the labels need them).
    public init(release: String, hosts: [StoredHost], runs: [RunRef], cases: [StoredCase]) {
        self.release = release
        let runsByHost = Dictionary(grouping: runs, by: \.hostID)
        columns = hosts.compactMap { host in
            let ofRelease = (runsByHost[host.id] ?? []).filter { $0.release == release }
            guard let newest = ofRelease.max(by: { $0.startedAt < $1.startedAt }) else { return nil }
            return Column(host: host, run: newest, runs: ofRelease.count)
        }
        let casesByHost = Dictionary(grouping: cases, by: \.verdict.run.hostID)
        let history = Dictionary(
            uniqueKeysWithValues: hosts.map { host in
                (
                    host.id,
                    CaseHistory(
                        hostRuns: runsByHost[host.id] ?? [],
                        verdicts: (casesByHost[host.id] ?? []).map(\.verdict)
                    )
                )
            }
        )
        let shown = Set(columns.map(\.run.id))
        let cellCases = cases.filter { shown.contains($0.verdict.run.id) }
        var order: [String] = []
        var areaOrder: [String] = []
        var about: [String: StoredCase] = [:]
        for stored in cellCases.sorted(by: { $0.position < $1.position }) where about[stored.verdict.caseID] == nil {
            about[stored.verdict.caseID] = stored
            order.append(stored.verdict.caseID)
            if !areaOrder.contains(stored.area) { areaOrder.append(stored.area) }
        }
        let byRunAndCase = Dictionary(
            cellCases.map { ("\($0.verdict.run.id) \($0.verdict.caseID)", $0.verdict) },
            uniquingKeysWith: { first, _ in first }
        )
        let columns = columns
        rows = areaOrder.flatMap { area in
            order.filter { about[$0]?.area == area }
                .map { caseID in
                    Row(
                        caseID: caseID,
                        area: area,
                        title: about[caseID]?.title ?? "",
                        cells: columns.map { column in
                            byRunAndCase["\(column.run.id) \(caseID)"]
                                .map { verdict in
                                    Cell(verdict: verdict, label: history[column.host.id]?.label(for: verdict))
                                }
                        }
                    )
                }
        }
    }
}
