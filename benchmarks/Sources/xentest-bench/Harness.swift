import Foundation
import Libvirt
import Logging
import Synchronization
import XentestBackendLibvirt
import XentestPlan
import XentestReport
import XentestRun
import XentestSupport

/// Where the runner's events go during a measured run.
enum EventSink: String, Codable, CaseIterable {
    /// Collected in an array, nothing written: the runner's own cost.
    case memory
    /// Recorded by a ResultsDirectory in a temporary folder (journal.jsonl, per-case evidence), as `xentest run`
    /// does; the reports written at the end are timed separately.
    case journal
}

/// What one child process measured: one timed run of one plan with one event sink.
struct RunSample: Codable {
    var plan: String
    var sink: EventSink
    var cases: Int
    var casesRun: Int
    /// Case statuses of the run, e.g. ["pass": 375, "skip": 625].
    var statuses: [String: Int] = [:]
    /// Cases per area, and how many of them ran (the rest were skipped, e.g. for needing a real guest).
    var casesByArea: [String: Int] = [:]
    var runByArea: [String: Int] = [:]
    /// Step results of the run, teardown steps included.
    var steps = 0
    /// libvirt API calls the steps and teardown recorded as evidence (kind "api").
    var apiCalls = 0
    var callsByName: [String: Int] = [:]
    /// Wall time of the warm-up run (the warm-up plan, cold process) and of the timed `Runner.run`.
    var warmUpSeconds = 0.0
    var runSeconds = 0.0
    /// The sum of the evidence's own durations: time spent inside the recorded libvirt calls.
    var insideCallsSeconds = 0.0
    /// Journal sink only: time of `ResultsDirectory.writeReports` after the run.
    var reportSeconds: Double?
    /// Peak RSS of this process after the two runs (before the raw replay), KiB.
    var peakRSSKiB = 0
    /// The same calls made directly through the C API (asked of one memory-sink child per plan).
    var raw: RawMeasurement?
    /// Where the journal sink's time goes, from this run's events (asked of the same child).
    var journalBreakdown: JournalBreakdown?
}

/// Runs a plan through `Runner` on libvirt's test driver, in this process.
enum Harness {
    /// Runs `warmUpPath` once (untimed: first-use costs), then `planPath` once, timed; `extraRepeats` > 0 also
    /// replays the run's calls through the C API and its events through the journal, that many times each.
    ///
    /// One timed run per process, because each step's `withDeadline` leaves a cancelled `Task.sleep` pending
    /// until the step's timeout (30-120 s): runs repeated in one process would slow down and grow (README).
    static func measure(planPath: String, sink: EventSink, hostXML: String, warmUpPath: String, extraRepeats: Int)
        async throws -> RunSample
    {
        let warmUp = try await runOnce(try PlanLoader().load(path: warmUpPath).plan, sink: sink, hostXML: hostXML)
        let plan = try PlanLoader().load(path: planPath).plan
        let run = try await runOnce(plan, sink: sink, hostXML: hostXML)
        var sample = RunSample(plan: plan.name, sink: sink, cases: plan.cases.count, casesRun: 0)
        sample.peakRSSKiB = peakRSSKiB()
        sample.warmUpSeconds = warmUp.seconds
        sample.runSeconds = run.seconds
        sample.reportSeconds = run.reportSeconds
        for testCase in run.result.cases {
            sample.statuses[testCase.status.rawValue, default: 0] += 1
            sample.casesByArea[testCase.area, default: 0] += 1
            if testCase.status != .skip {
                sample.casesRun += 1
                sample.runByArea[testCase.area, default: 0] += 1
            }
            sample.steps += testCase.steps.count + testCase.teardown.count
        }
        sample.apiCalls = run.calls.count
        for call in run.calls { sample.callsByName[call.call, default: 0] += 1 }
        sample.insideCallsSeconds = run.calls.reduce(0) { $0 + $1.durationSeconds }
        if extraRepeats > 0 {
            sample.raw = try RawReplay.measure(run.calls, uri: "test://" + hostXML, repeats: extraRepeats)
            sample.journalBreakdown = try JournalBreakdown.measure(
                run.events,
                planName: plan.name,
                repeats: extraRepeats
            )
        }
        return sample
    }

    struct Run {
        var seconds: Double
        var result: RunResult
        /// Every libvirt call recorded in the evidence of the steps and teardown, in order.
        var calls: [Evidence]
        /// The events as emitted (memory sink only).
        var events: [RunEvent] = []
        var reportSeconds: Double?
    }

    /// One run of `plan` on a freshly opened private test host; only `Runner.run` is timed.
    static func runOnce(_ plan: Plan, sink: EventSink, hostXML: String) async throws -> Run {
        let backend = try LibvirtBackend(uri: "test://" + hostXML)
        let host = HostConfig.testDriverDefault
        let facts = try await backend.collectFacts(host: host)
        let runPlan = try RunPlanner.resolve(plan, only: [], backend: backend, facts: facts, host: host)
        var runner = Runner(
            backend: backend,
            host: host,
            facts: facts,
            runID: "bench",
            casesDirectory: "/nonexistent",
            logger: Logger(label: "xentest-bench", factory: { _ in SwiftLogNoOpLogHandler() }),
            emit: { _ in }
        )
        switch sink {
        case .memory:
            let events = Mutex<[RunEvent]>([])
            runner.emit = { event in events.withLock { $0.append(event) } }
            let start = ContinuousClock.now
            await runner.run(runPlan)
            let seconds = secondsSince(start)
            let emitted = events.withLock { $0 }
            var builder = RunResultBuilder()
            for event in emitted { builder.add(event) }
            guard let result = builder.result() else { throw BenchError("the run of \(plan.name) recorded nothing") }
            return Run(seconds: seconds, result: result, calls: apiCalls(result), events: emitted)
        case .journal:
            let root = FileManager.default.temporaryDirectory.path + "/xentest-bench-results-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: root) }
            let results = try ResultsDirectory(root: root, plan: plan.name, host: facts.hostname, at: Date())
            runner.casesDirectory = results.casesPath
            runner.emit = { event in results.record(event) }
            let start = ContinuousClock.now
            await runner.run(runPlan)
            let seconds = secondsSince(start)
            guard let result = results.result() else { throw BenchError("the run of \(plan.name) recorded nothing") }
            let reportStart = ContinuousClock.now
            try RunReports.write(result, into: results.path)
            let reportSeconds = secondsSince(reportStart)
            if let problem = results.problems.first {
                throw BenchError("the results directory had problems: \(problem)")
            }
            return Run(seconds: seconds, result: result, calls: apiCalls(result), reportSeconds: reportSeconds)
        }
    }

    /// The libvirt calls in the evidence of every step and teardown step, in the order they were made.
    static func apiCalls(_ result: RunResult) -> [Evidence] {
        result.cases.flatMap { $0.steps + $0.teardown }.flatMap(\.evidence).filter { $0.kind == "api" }
    }
}

/// All the samples of one plan with one sink: the first describes the work, the others must match it.
struct PlanMeasurement {
    var samples: [RunSample]

    var first: RunSample { samples[0] }
    var runSeconds: Double { median(samples.map(\.runSeconds)) }
    var insideCallsSeconds: Double { median(samples.map(\.insideCallsSeconds)) }
    var reportSeconds: Double { median(samples.compactMap(\.reportSeconds)) }
    var warmUpSeconds: Double { median(samples.map(\.warmUpSeconds)) }
    var peakRSSKiB: Int { samples.map(\.peakRSSKiB).max() ?? 0 }
    var perCall: Double { runSeconds / Double(max(first.apiCalls, 1)) }
    var raw: RawMeasurement? { samples.compactMap(\.raw).first }
    var journalBreakdown: JournalBreakdown? { samples.compactMap(\.journalBreakdown).first }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
