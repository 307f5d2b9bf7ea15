import Foundation
import Libvirt
import Synchronization
import XentestPlan
import XentestRun
import XentestSupport

/// Runs a shell command inside a guest through libvirt's console stream (`virDomainOpenConsole`), with the markers
/// of `GuestConsoleCommand`: the same protocol as xl's console pty, over libvirt's connection, so it works for any
/// driver that has consoles and for a daemon on another machine.
///
/// The stream is non-blocking: what the guest prints arrives from libvirt's event loop, and no thread waits on it.
/// Until the shell answers (a guest still booting drops what is typed at it), the line is typed again after
/// `answerWindow`, each time with a fresh marker; once the begin marker shows, the command runs as long as it needs,
/// within the step's own time limit (the runner cancels the task).
///
/// One console per domain at a time, never taken by force: libvirtd 9.0 deadlocks (its event loop and the opening
/// call wait on each other's locks) when a console is opened with `VIR_DOMAIN_CONSOLE_FORCE` while the previous
/// stream of the same device is being aborted. So each command waits until the previous console of its domain is
/// closed (`ConsoleClosings`), and a console still held (by a person's `virsh console`) is asked for again briefly.
struct LibvirtGuestConsole: GuestConsole {
    var domain: LibvirtDomain
    /// The backend's record of consoles being closed.
    var closings: ConsoleClosings
    /// How long one attempt waits for the shell to start the command (the begin marker) before typing it again.
    var answerWindow = PlanDuration.seconds(3)
    /// How long a console that another client holds is asked for before the command fails.
    var busyPatience = PlanDuration.seconds(10)

    /// What the console stream delivered, or that an attempt's window closed.
    private enum Event: Sendable {
        case bytes([UInt8])
        case closed(problem: String?)
        case windowClosed(attempt: Int)
    }

    func exec(_ command: String) async throws -> GuestConsoleOutcome {
        try await withConsole { stream, evidence in try await converse(command, over: stream, evidence: evidence) }
    }

    func watch(for pattern: PlanPattern) async throws -> GuestConsoleOutcome {
        try await withConsole { stream, evidence in try await watch(for: pattern, over: stream, evidence: evidence) }
    }

    /// Opens the domain's console (waiting for its previous one to close, and a while for one another client holds),
    /// runs `body` on it and closes it; the outcome says why it could not be opened.
    private func withConsole(_ body: (LibvirtStream, [Evidence]) async throws -> GuestConsoleOutcome) async throws
        -> GuestConsoleOutcome
    {
        let name = domain.name
        await closings.waitUntilClosed(name)
        var evidence: [Evidence] = []
        var stream: LibvirtStream?
        let start = Date()
        var delay = 0.1
        while stream == nil {
            let calls = CallLog()
            let opened = try await LibvirtBackend.offPool { [domain] () -> Result<LibvirtStream, LibvirtError> in
                do {
                    return .success(
                        try calls.call("virDomainOpenConsole", [name, "NONBLOCK"]) {
                            try domain.openConsole(nonBlocking: true)
                        }
                    )
                } catch let error as LibvirtError { return .failure(error) }
            }
            evidence += calls.evidence
            switch opened {
            case .success(let opened): stream = opened
            case .failure(let error):
                let busy = error.message.contains("Active console session exists")
                guard busy, Date().timeIntervalSince(start) < Double(busyPatience.milliseconds) / 1000 else {
                    let hint = busy ? " (another client holds it: close its `virsh console`)" : ""
                    let problem = "cannot open the console of \(name): \(error.message)\(hint)"
                    return GuestConsoleOutcome(
                        reached: false,
                        status: -1,
                        output: "",
                        problem: problem,
                        evidence: evidence
                    )
                }
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 1)
            }
        }
        guard let stream else { preconditionFailure("the loop ends with a stream or returns") }
        do {
            let outcome = try await body(stream, evidence)
            await closings.close(stream, of: name)
            return outcome
        } catch {
            await closings.close(stream, of: name)
            throw error
        }
    }

    /// Reads the open console until a line matches `pattern`, typing a carriage return every `answerWindow` so that
    /// a prompt printed before shows again.
    private func watch(for pattern: PlanPattern, over stream: LibvirtStream, evidence: [Evidence]) async throws
        -> GuestConsoleOutcome
    {
        let name = domain.name
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let incoming = try stream.incoming()
        let forwarder = Task {
            do {
                for try await chunk in incoming { sink.yield(.bytes(chunk)) }
                sink.yield(.closed(problem: nil))
            } catch { sink.yield(.closed(problem: "\(error)")) }
        }
        defer {
            forwarder.cancel()
            sink.finish()
        }
        let start = Date()
        var read: [UInt8] = []
        func seen(_ status: Int, error: String = "") -> Evidence {
            Evidence(
                kind: "console",
                call: "console",
                arguments: ["(watching for /\(pattern.source)/)"],
                status: status,
                output: String(String(decoding: read, as: UTF8.self).suffix(16 * 1024)),
                error: error,
                durationSeconds: Date().timeIntervalSince(start)
            )
        }
        var iterator = events.makeAsyncIterator()
        var nudges = 0
        while true {
            try Task.checkCancellation()
            nudges += 1
            do { try await LibvirtBackend.offPool { try stream.send(Array("\r".utf8)) } } catch let error
                as LibvirtError
            {
                return GuestConsoleOutcome(
                    reached: false,
                    status: -1,
                    output: "",
                    problem: "cannot type into the console of \(name): \(error.message)",
                    evidence: evidence + [seen(-1, error: error.message)]
                )
            }
            let thisNudge = nudges
            let window = OneShotTimer(after: answerWindow) { sink.yield(.windowClosed(attempt: thisNudge)) }
            defer { window.cancel() }
            waiting: while true {
                guard let event = await iterator.next() else { throw CancellationError() }
                switch event {
                case .bytes(let chunk):
                    read = Array((read + chunk).suffix(65536))
                    if let line = ConsoleText.firstLine(in: String(decoding: read, as: UTF8.self), matching: pattern) {
                        return GuestConsoleOutcome(
                            reached: true,
                            status: 0,
                            output: line,
                            problem: nil,
                            evidence: evidence + [seen(0)]
                        )
                    }
                case .windowClosed(let which): if which == thisNudge { break waiting }
                case .closed(let problem):
                    return GuestConsoleOutcome(
                        reached: false,
                        status: -1,
                        output: "",
                        problem:
                            "the console of \(name) closed\(problem.map { ": \($0)" } ?? "") (did the guest stop?)",
                        evidence: evidence + [seen(-1, error: problem ?? "the console closed")]
                    )
                }
            }
        }
    }

    /// Types the command and reads the answer, on an open console.
    private func converse(_ command: String, over stream: LibvirtStream, evidence: [Evidence]) async throws
        -> GuestConsoleOutcome
    {
        var evidence = evidence
        let name = domain.name
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let incoming = try stream.incoming()
        let forwarder = Task {
            do {
                for try await chunk in incoming { sink.yield(.bytes(chunk)) }
                sink.yield(.closed(problem: nil))
            } catch { sink.yield(.closed(problem: "\(error)")) }
        }
        defer {
            forwarder.cancel()
            sink.finish()
        }

        var iterator = events.makeAsyncIterator()
        var attempt = 0
        while true {
            try Task.checkCancellation()
            attempt += 1
            let line = GuestConsoleCommand(command)
            let start = Date()
            do { try await LibvirtBackend.offPool { try stream.send(Array(line.typed.utf8)) } } catch let error
                as LibvirtError
            {
                evidence.append(Self.evidence(line, read: "", status: -1, error: error.message, since: start))
                return GuestConsoleOutcome(
                    reached: false,
                    status: -1,
                    output: "",
                    problem: "cannot type into the console of \(name): \(error.message)",
                    evidence: evidence
                )
            }
            let thisAttempt = attempt
            let window = OneShotTimer(after: answerWindow) { sink.yield(.windowClosed(attempt: thisAttempt)) }
            defer { window.cancel() }
            var read: [UInt8] = []
            var started = false
            attemptLoop: while true {
                guard let event = await iterator.next() else { throw CancellationError() }
                switch event {
                case .bytes(let chunk):
                    read += chunk
                    let text = String(decoding: read, as: UTF8.self)
                    if let result = line.result(in: text) {
                        evidence.append(Self.evidence(line, read: text, status: result.status, since: start))
                        return GuestConsoleOutcome(
                            reached: true,
                            status: result.status,
                            output: result.output,
                            problem: nil,
                            evidence: evidence
                        )
                    }
                    // The shell has begun the command: it gets all the time the step allows.
                    if !started, text.contains("__XT_B_\(line.marker)__") {
                        started = true
                        window.cancel()
                    }
                case .windowClosed(let which):
                    guard which == attempt, !started else { continue }
                    // No answer: the shell is not up yet (the guest is booting) or the line was lost; type it again.
                    evidence.append(
                        Self.evidence(
                            line,
                            read: String(decoding: read, as: UTF8.self),
                            status: -1,
                            error: "no answer in \(answerWindow)",
                            since: start
                        )
                    )
                    break attemptLoop
                case .closed(let problem):
                    let text = String(decoding: read, as: UTF8.self)
                    evidence.append(
                        Self.evidence(
                            line,
                            read: text,
                            status: -1,
                            error: problem ?? "the console closed",
                            since: start
                        )
                    )
                    return GuestConsoleOutcome(
                        reached: false,
                        status: -1,
                        output: "",
                        problem:
                            "the console of \(name) closed\(problem.map { ": \($0)" } ?? "") (did the guest stop?)",
                        evidence: evidence
                    )
                }
            }
        }
    }

    /// One attempt as evidence: the line typed, what came back, and how it ended.
    private static func evidence(
        _ line: GuestConsoleCommand,
        read: String,
        status: Int,
        error: String = "",
        since start: Date
    ) -> Evidence {
        Evidence(
            kind: "console",
            call: "console",
            arguments: [line.typed.trimmingCharacters(in: .newlines)],
            status: status,
            output: String(read.suffix(16 * 1024)),
            error: error,
            durationSeconds: Date().timeIntervalSince(start)
        )
    }
}

/// Consoles being closed, by domain: a console is opened only once the previous one of its domain is closed (see
/// `LibvirtGuestConsole`). Closing runs off the cooperative pool and is waited for even by a cancelled step, so a
/// step that timed out cannot leave a half-closed console for the next one.
final class ConsoleClosings: Sendable {
    private let closing = Mutex<[String: Task<Void, Never>]>([:])

    /// Aborts `stream` and returns once it is closed; the next console of `domain` waits for the same.
    func close(_ stream: LibvirtStream, of domain: String) async {
        let task = Task { _ = try? await LibvirtBackend.offPool { try stream.abort() } }
        closing.withLock { $0[domain] = task }
        await task.value
        closing.withLock { if $0[domain] == task { $0[domain] = nil } }
    }

    /// Returns once the last console of `domain` is closed (at once when there is none).
    func waitUntilClosed(_ domain: String) async {
        guard let task = closing.withLock({ $0[domain] }) else { return }
        await task.value
        closing.withLock { if $0[domain] == task { $0[domain] = nil } }
    }
}
