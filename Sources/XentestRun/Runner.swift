import Foundation
import Logging
import Synchronization
import XentestPlan
import XentestSupport

/// Runs a resolved plan on one backend and reports everything as events; it never writes files itself.
///
/// A case that fails, errors or times out never stops the run; teardown of what a case created runs on every
/// path, Ctrl-C included (cancel the task that called `run`).
public struct Runner: Sendable {
    /// The toolstack every case runs through.
    public var backend: any Backend
    /// The host file: the devices, bridge and test guest the cases use.
    public var host: HostConfig
    /// The host's facts: for the header, and to decide which known issues apply.
    public var facts: HostFacts
    /// The run's id, part of every guest's name (`xentest-<run-id>-<case>`).
    public var runID: String
    /// Where each case's evidence directory goes (`results/<run>/cases`).
    public var casesDirectory: String
    /// The whole run's time limit; cases not started by then end as timeouts.
    public var runTimeout: PlanDuration?
    /// The earlier run this one is measured against, recorded in the header.
    public var baseline: BaselineRun?
    /// How long each teardown action may take.
    public var teardownTimeout = PlanDuration.seconds(120)
    /// Where retries and teardown failures are logged.
    public var logger: Logger
    /// Receives every event, one at a time; a case's events in order (under `jobs` > 1, cases' events interleave).
    public var emit: @Sendable (RunEvent) -> Void
    /// How many cases may run at once (`run --jobs`); 1 runs them one after another.
    public var jobs = 1

    /// A runner of cases on `backend` with `host`; every event goes to `emit`. It has no baseline, and teardown actions
    /// get 120 s each.
    public init(
        backend: any Backend,
        host: HostConfig,
        facts: HostFacts,
        runID: String,
        casesDirectory: String,
        runTimeout: PlanDuration? = nil,
        logger: Logger,
        emit: @escaping @Sendable (RunEvent) -> Void
    ) {
        self.backend = backend
        self.host = host
        self.facts = facts
        self.runID = runID
        self.casesDirectory = casesDirectory
        self.runTimeout = runTimeout
        self.logger = logger
        self.emit = emit
    }

    /// The domain name of a case's (first) guest in this run.
    public func domainName(for testCase: TestCase) -> String { "xentest-\(runID)-\(testCase.id)" }

    /// The case's guests made concrete, in plan order: the first named `domainName(for:)`, each other one after
    /// it with its plan name (`xentest-<run>-<case>-<guest>`), each with its own address (`HostConfig.forGuest`).
    public func guestInstances(for testCase: TestCase) -> [GuestInstance] {
        let base = domainName(for: testCase)
        return testCase.guests.enumerated()
            .map { index, spec in
                GuestInstance(
                    domainName: index == 0 ? base : base + "-" + spec.name,
                    spec: spec,
                    host: host.forGuest(index)
                )
            }
    }

    /// The header every report starts from.
    public func header(for runPlan: RunPlan, startedAt: Date) -> RunHeader {
        RunHeader(
            runID: runID,
            plan: runPlan.plan.name,
            planTitle: runPlan.plan.title,
            release: runPlan.plan.release,
            xentestVersion: XentestVersion.current,
            host: facts,
            hostConfig: host.source,
            startedAt: startedAt,
            cases: runPlan.entries.map {
                .init(id: $0.testCase.id, title: $0.testCase.title, area: $0.testCase.area, backend: $0.backend)
            },
            baseline: baseline
        )
    }

    /// Runs every entry, at most `jobs` at once (`CaseAdmission`); returns whether the run was interrupted.
    ///
    /// Cases start in plan order, each when what it holds is free. The host-health check reads the host around a
    /// window of cases: one case when they run one at a time; under `jobs` > 1 the cases that ran together, from a
    /// moment nothing ran to the next (at most `2 × jobs` of them, then no case starts until they have ended), so
    /// that one before-and-after pair judges them all and each leak is blamed on the case it names.
    @discardableResult public func run(_ runPlan: RunPlan) async -> Bool {
        let start = Date()
        var runner = self
        runner.emit = SerialEmitter(emit).callAsFunction
        runner.emit(.runStarted(header(for: runPlan, startedAt: start)))
        let runDeadline = runTimeout.map { start.addingTimeInterval(Double($0.milliseconds) / 1000) }
        await runner.runEntries(runPlan, runDeadline: runDeadline)
        let interrupted = Task.isCancelled
        runner.emit(.runEnded(at: Date(), interrupted: interrupted))
        return interrupted
    }

    private func runEntries(_ runPlan: RunPlan, runDeadline: Date?) async {
        let admission = CaseAdmission(jobs: jobs, facts: facts)
        let windowLimit = jobs == 1 ? 1 : 2 * jobs
        let rules = runPlan.plan.hostHealth
        await withTaskGroup(of: CaseRun.self) { group in
            var running: [String: CaseClaims] = [:]
            var window: HostHealthWindow?
            func ended(_ run: CaseRun) async {
                running[run.testCase.id] = nil
                window?.cases.append(run)
                if window == nil { finish(run, health: nil, checkSeconds: 0) }
                if running.isEmpty, let closing = window {
                    window = nil
                    await closeWindow(closing, rules: rules)
                }
            }
            // Entries are taken in plan order, each when a place is free (so that under one job the events come in
            // plan order, as the cases ran); a case then waits until what it holds is free.
            func waitFor(_ refusal: () -> String?) async {
                while refusal() != nil, let run = await group.next() { await ended(run) }
            }
            for (order, entry) in runPlan.entries.enumerated() {
                await waitFor { running.count >= jobs || (window?.started ?? 0) >= windowLimit ? "full" : nil }
                if Task.isCancelled { break }
                let testCase = entry.testCase
                if case .skip(let reasons) = entry.decision {
                    emit(
                        .caseSkipped(
                            caseID: testCase.id,
                            backend: entry.backend,
                            reason: reasons.joined(separator: "; ")
                        )
                    )
                    continue
                }
                let claims = CaseClaims(testCase, makesOwnNetwork: backend.makesOwnNetwork)
                await waitFor { admission.refusal(claims, besides: Array(running.values)) }
                if Task.isCancelled { break }
                if let runDeadline, Date() >= runDeadline, let limit = runTimeout {
                    emit(.caseStarted(caseID: testCase.id, backend: entry.backend, at: Date()))
                    emit(
                        .caseEnded(
                            caseID: testCase.id,
                            status: .timeout,
                            reason: "the run's time limit (\(limit)) was reached before this case started",
                            knownIssue: nil,
                            durationSeconds: 0
                        )
                    )
                    continue
                }
                if running.isEmpty, let before = await backend.readInventory() {
                    window = HostHealthWindow(before: before)
                }
                window?.started += 1
                running[testCase.id] = claims
                group.addTask { await performCase(testCase, order: order, runDeadline: runDeadline) }
            }
            while let run = await group.next() { await ended(run) }
        }
    }

    /// A case whose steps and teardown are done, waiting for its verdict: the host-health check and known issues.
    struct CaseRun: Sendable {
        var testCase: TestCase
        /// Its place in the plan: verdicts of a window are given in plan order.
        var order: Int
        var start: Date
        /// When its teardown ended.
        var end: Date
        var status: CaseStatus
        var reason: String?
        /// The case's first guest's session (its ledger is the case's).
        var session: CaseSession
        /// The index the case's next teardown step takes.
        var nextIndex: Int
    }

    /// Runs a case's steps, keeps its logs when it did not pass, and tears it down; its end is for `finish`.
    func performCase(_ testCase: TestCase, order: Int, runDeadline: Date?) async -> CaseRun {
        let start = Date()
        emit(.caseStarted(caseID: testCase.id, backend: backend.kind, at: start))
        let instances = guestInstances(for: testCase)
        let byName = Dictionary(instances.map { ($0.spec.name, $0) }, uniquingKeysWith: { first, _ in first })
        let ledger = CaseSession.SharedLedger()
        let answers = RunPlanner.unmet(.testGuest, backend: backend, facts: facts, host: host) == nil
        func session(_ guest: GuestInstance?) -> CaseSession {
            CaseSession(
                testCase: testCase,
                guest: guest,
                host: guest?.host ?? host,
                evidenceDirectory: casesDirectory + "/" + testCase.id,
                // Only xentest's test guest answers on its console; a copy of the tester's own guest does not.
                guestAnswers: answers && guest?.spec.fromHost == nil,
                caseGuests: byName,
                caseDomainName: domainName(for: testCase),
                ledger: ledger
            )
        }
        // One session per guest, sharing the case's ledger; a step acts on its `on:` guest, else the first.
        let sessions = instances.isEmpty ? [session(nil)] : instances.map(session)
        let sessionOf = Dictionary(zip(instances.map(\.spec.name), sessions), uniquingKeysWith: { first, _ in first })
        var caseDeadline = start.addingTimeInterval(Double(testCase.timeout.milliseconds) / 1000)
        if let runDeadline, runDeadline < caseDeadline { caseDeadline = runDeadline }
        var status = CaseStatus.pass
        var reason: String?
        for (index, step) in testCase.steps.enumerated() {
            let session = step.guest.flatMap { sessionOf[$0] } ?? sessions[0]
            let result = await runStep(step, index: index, session: session, caseDeadline: caseDeadline)
            emit(.stepEnded(caseID: testCase.id, step: result, teardown: false))
            if result.status == .skip {
                status = .skip
                reason = result.message
                break
            }
            if result.status != .pass {
                status = result.status
                reason = "step \(index + 1) (\(result.label)): \(result.message ?? result.status.rawValue)"
                break
            }
        }
        var stepsSoFar = testCase.steps.count
        if [.fail, .error, .timeout].contains(status) {
            for session in sessions where await keepLogs(session, index: stepsSoFar) { stepsSoFar += 1 }
        }
        let session = sessions[0]
        let teardownSteps = session.ledger.entries.count
        // Teardown runs in a task of its own: it must not inherit the cancellation of a Ctrl-C.
        let teardownFailure = await Task { [stepsSoFar] in await teardown(session, after: stepsSoFar) }.value
        if let teardownFailure, [.pass, .fail, .skip].contains(status) {
            status = .error
            reason = (reason.map { $0 + "; " } ?? "") + teardownFailure
        }
        return CaseRun(
            testCase: testCase,
            order: order,
            start: start,
            end: Date(),
            status: status,
            reason: reason,
            session: session,
            nextIndex: stepsSoFar + teardownSteps
        )
    }

    /// The case's verdict: what the host-health check found (a leak errors the case, a logged warning fails a
    /// passing one), then its known issue; emits the case's end. Its time is its own and its check's, not the wait
    /// for the other cases of its window.
    func finish(_ run: CaseRun, health: HostHealthCheck?, checkSeconds: Double) {
        var status = run.status
        var reason = run.reason
        let testCase = run.testCase
        if let health {
            if let leak = health.leak, status != .interrupted {
                status = .error
                reason = (reason.map { $0 + "; " } ?? "") + leak
            } else if let logged = health.logged, status == .pass {
                status = .fail
                reason = logged
            }
        }
        var knownIssueText: String?
        if let issue = RunPlanner.applicableKnownIssue(testCase, backend: backend, facts: facts) {
            knownIssueText = issue.summary + (issue.link.map { " (\($0))" } ?? "")
            switch status {
            case .fail, .timeout:
                if issue.explains(reason ?? "") {
                    status = .xfail
                    reason = "known issue: \(issue.summary); \(reason ?? "")"
                } else {
                    reason =
                        (reason ?? "")
                        + " (not the known issue: /\(issue.failureMatches?.source ?? "")/ does not match)"
                }
            case .pass:
                status = .xpass
                reason = "expected to fail (known issue: \(issue.summary)), but passed"
            default: break
            }
        }
        emit(
            .caseEnded(
                caseID: testCase.id,
                status: status,
                reason: reason,
                knownIssue: knownIssueText,
                durationSeconds: run.end.timeIntervalSince(run.start) + checkSeconds
            )
        )
    }

    func runStep(_ step: Step, index: Int, session: CaseSession, caseDeadline: Date) async -> StepResult {
        let start = Date()
        var evidence: [Evidence] = []
        var attempts = 0
        let retryUntil = step.retryFor.map { start.addingTimeInterval(Double($0.milliseconds) / 1000) }
        var delay = 0.1
        func result(_ status: CaseStatus, _ message: String?) -> StepResult {
            StepResult(
                index: index,
                label: step.action.label,
                expected: step.expectation.description,
                status: status,
                message: message,
                durationSeconds: Date().timeIntervalSince(start),
                attempts: attempts,
                evidence: evidence
            )
        }
        while true {
            if Task.isCancelled { return result(.interrupted, "interrupted (Ctrl-C or SIGTERM)") }
            let remaining = caseDeadline.timeIntervalSinceNow
            guard remaining > 0 else { return result(.timeout, "the case's time limit was reached") }
            let limit = PlanDuration(milliseconds: min(step.timeout.milliseconds, Int(remaining * 1000) + 1))
            attempts += 1
            let verdict: Verdict
            let activity = StepActivity()
            do {
                let backend = self.backend
                let outcome = try await Self.tracked(limit, activity) {
                    try await backend.perform(step.action, in: session)
                }
                evidence += outcome.evidence
                verdict = Self.evaluate(step.expectation, outcome, host: host, hostCPUs: facts.cpus)
            } catch let error as DeadlineExceeded {
                evidence += activity.evidenceSoFar()
                let whose = limit.milliseconds < step.timeout.milliseconds ? "the case's time limit" : "its timeout"
                return result(.timeout, "\(step.action.label) \(error) (\(whose))")
            } catch is CancellationError {
                evidence += activity.evidenceSoFar()
                return result(.interrupted, "interrupted (Ctrl-C or SIGTERM)")
            } catch let error as BackendFailure {
                evidence += error.evidence
                return result(.error, error.message)
            } catch let error as CaseCannotRun {
                evidence += error.evidence
                return result(.skip, error.reason)
            } catch {
                evidence += activity.evidenceSoFar()
                return result(.error, "\(error)")
            }
            switch verdict {
            case .met: return result(.pass, nil)
            case .harnessProblem(let message): return result(.error, message)
            case .notMet(let message):
                // Retry until the window closes, with a last attempt right at its end.
                let windowLeft = min(retryUntil?.timeIntervalSinceNow ?? 0, caseDeadline.timeIntervalSinceNow)
                if windowLeft > 0.01 {
                    logger.debug("retrying \(step.action.label): \(message)")
                    if await !awaitChange(step.action, session, windowLeft: windowLeft) {
                        try? await Task.sleep(for: .seconds(min(delay, windowLeft)))
                        delay = min(delay * 2, 1)
                    }
                    continue
                }
                let tries = attempts > 1 ? " (after \(attempts) attempts)" : ""
                return result(.fail, message + tries)
            }
        }
    }

    /// How long a retried step waits on the toolstack's event before asking again anyway: a change that came
    /// between the failed attempt and the start of the watch is seen this much later at most.
    static let changeWatchSeconds = 2

    /// Waits before a retried step's next attempt on the backend's event for a change to what it reads, at most
    /// `changeWatchSeconds` and the window left (whole seconds: the far side's `timeout` takes those); false when
    /// the backend has none for the action, or it failed: the caller polls.
    func awaitChange(_ action: Action, _ session: CaseSession, windowLeft: Double) async -> Bool {
        let seconds = min(Self.changeWatchSeconds, Int(windowLeft))
        guard seconds >= 1 else { return false }
        return (try? await backend.awaitChange(relevantTo: action, in: session, atMost: seconds)) ?? false
    }

    /// Runs a backend action within `limit`, with `activity` as the step's, so that what it ran is known even when
    /// it never returns.
    static func tracked<T: Sendable>(
        _ limit: PlanDuration,
        _ activity: StepActivity,
        _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withDeadline(limit) { try await StepActivity.$current.withValue(activity) { try await work() } }
    }

    /// Keeps the toolstack's logs of a case that did not pass, before teardown removes the guest (listed with the
    /// teardown, as `logs`). Bounded in time, and never a failure of its own.
    /// Returns whether there were any.
    func keepLogs(_ session: CaseSession, index: Int) async -> Bool {
        let start = Date()
        let backend = self.backend
        let logs = await Task { (try? await withDeadline(.seconds(60)) { await backend.logs(for: session) }) ?? [] }
            .value
        guard !logs.isEmpty else { return false }
        emit(
            .stepEnded(
                caseID: session.testCase.id,
                step: StepResult(
                    index: index,
                    label: "logs: \(session.domainName)",
                    expected: "kept",
                    status: .pass,
                    message: nil,
                    durationSeconds: Date().timeIntervalSince(start),
                    attempts: 1,
                    evidence: logs
                ),
                teardown: true
            )
        )
        return true
    }

    /// Undoes what the case left on its ledger, last first; returns a message when any of it failed. An undo that
    /// fails (not one that times out or is cancelled) is tried once more a second later: on a loaded host a teardown
    /// command can die of a cause of the host's own (dom0's `rm` was seen to segfault), and what the run made must
    /// not stay.
    func teardown(_ session: CaseSession, after stepCount: Int) async -> String? {
        var failures: [String] = []
        let entries = session.ledger.teardownOrder
        for (offset, entry) in entries.enumerated() {
            let start = Date()
            var evidence: [Evidence] = []
            var status = CaseStatus.pass
            var message: String?
            var attempts = 0
            while true {
                attempts += 1
                let activity = StepActivity()
                do {
                    let backend = self.backend
                    evidence += try await Self.tracked(teardownTimeout, activity) {
                        try await backend.undo(entry, in: session)
                    }
                    session.forget(entry)
                    status = .pass
                } catch {
                    evidence += (error as? BackendFailure)?.evidence ?? activity.evidenceSoFar()
                    status = error is DeadlineExceeded ? .timeout : .error
                    message = attempts == 1 ? "\(error)" : "\(message ?? ""); again: \(error)"
                    if status == .error && attempts == 1 && !(error is CancellationError) {
                        logger.warning("teardown of \(entry) failed, trying again: \(error)")
                        try? await Task.sleep(for: .seconds(1))
                        continue
                    }
                }
                break
            }
            if status != .pass {
                failures.append("teardown of \(entry) failed: \(message ?? "")")
                logger.error("teardown of \(entry) failed: \(message ?? "")")
            } else if let first = message {
                message = "done on the second attempt; the first failed: \(first)"
            }
            emit(
                .stepEnded(
                    caseID: session.testCase.id,
                    step: StepResult(
                        index: stepCount + offset,
                        label: "teardown: \(entry)",
                        expected: "removed",
                        status: status,
                        message: message,
                        durationSeconds: Date().timeIntervalSince(start),
                        attempts: attempts,
                        evidence: evidence
                    ),
                    teardown: true
                )
            )
        }
        return failures.isEmpty ? nil : failures.joined(separator: "; ")
    }

    enum Verdict: Equatable {
        case met
        case notMet(String)
        case harnessProblem(String)
    }

    /// Compares what the backend saw with what the step expects: the one judge for every backend. CPU sets compare
    /// as sets of the host's `hostCPUs` CPUs, so that `all` and `0-1` are alike on a host with two.
    static func evaluate(_ expectation: Expectation, _ outcome: ActionOutcome, host: HostConfig, hostCPUs: Int = 0)
        -> Verdict
    {
        let failure = outcome.errorMessage ?? "failed without a message"
        switch expectation {
        case .succeeds: return outcome.succeeded ? .met : .notMet("failed: \(failure)")
        case .fails(let pattern):
            guard !outcome.succeeded else { return .notMet("succeeded, but was expected to fail") }
            guard let pattern else { return .met }
            return pattern.matches(failure)
                ? .met : .notMet("failed with '\(failure)', which does not match /\(pattern.source)/")
        default: break
        }
        guard outcome.succeeded else { return .notMet("failed: \(failure)") }
        guard let observation = outcome.observation else {
            return .harnessProblem("the backend reported nothing to compare with '\(expectation)'")
        }
        func check(_ ok: Bool) -> Verdict { ok ? .met : .notMet("expected \(expectation), saw \(observation)") }
        switch (expectation, observation) {
        case (.state(let wanted), .state(let seen)), (.state(let wanted), .listing(let seen, _)):
            return check(wanted == seen)
        case (.memory(let wanted), .listing(_, let seen)): return check(wanted.mebibytes == seen)
        case (.onlineVcpus(let wanted), .vcpus(let seen, _)): return check(wanted == seen)
        case (.affinity(let vcpu, let wanted), .vcpus(_, let affinity)):
            return check(affinity[vcpu]?.normalized(hostCPUs: hostCPUs) == wanted.normalized(hostCPUs: hostCPUs))
        case (.contains(let role), .pciDevices(let seen)), (.lacks(let role), .pciDevices(let seen)):
            guard let address = host.pciDevices[role]?.address else {
                return .harnessProblem("the host file names no PCI device for role '\(role)'")
            }
            if case .contains = expectation { return check(seen.contains(address)) }
            return check(!seen.contains(address))
        case (.count(let wanted), .interfaces(let seen)): return check(wanted == seen)
        case (.count(let wanted), .disks(let listed, let inGuest)):
            return check(wanted == listed && (inGuest.map { $0.count == wanted } ?? true))
        case (.equals(let wanted), .text(let seen)):
            return check(wanted == seen.trimmingCharacters(in: .whitespacesAndNewlines))
        case (.output(let status, let pattern), .commandOutput(let seenStatus, let output)):
            return check(seenStatus == status && (pattern.map { $0.matches(output) } ?? true))
        default:
            return .harnessProblem(
                "the backend observed \(observation), which cannot be compared with '\(expectation)'"
            )
        }
    }
}

/// Hands events to a sink one at a time: the cases of a run under `--jobs` emit from tasks of their own, and
/// recorders (journal, progress) take one event at a time.
final class SerialEmitter: Sendable {
    private let sink: @Sendable (RunEvent) -> Void
    private let lock = Mutex(())

    init(_ sink: @escaping @Sendable (RunEvent) -> Void) { self.sink = sink }

    func callAsFunction(_ event: RunEvent) { lock.withLock { _ in sink(event) } }
}
