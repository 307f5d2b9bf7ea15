import Foundation
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

/// Runs a shell command inside a guest through its console, from dom0: the guest's console pty (from xenstore) is
/// read until an end marker while the command, wrapped in markers, is written to it.
///
/// The command goes in with `GuestConsoleCommand`'s markers, the protocol every console transport shares.
struct XLGuestConsole: GuestConsole {
    var runner: any CommandRunner
    var domainName: String
    /// HVM guests' console is their first serial port; PV and PVH guests' is the Xen console; nil: the serial port
    /// if the guest has one, else the Xen console.
    var serial: Bool?
    /// How long one attempt waits for the end marker; attempts repeat until the guest answers or the step's own
    /// time limit ends the task.
    var attemptTimeout = PlanDuration.seconds(15)

    typealias Outcome = GuestConsoleOutcome

    /// The guest's console tty in dom0 (from xenstore), with the calls that found it; or the outcome saying why there
    /// is none.
    private func tty() async throws -> TTYLookup {
        var evidence: [Evidence] = []
        let domid = try await runner.run(["xl", "domid", domainName], timeout: .seconds(30))
        evidence.append(domid.evidence)
        guard domid.succeeded, let id = try? XLParse.domid(domid.stdout) else {
            return .missing(
                Outcome(reached: false, status: -1, output: "", problem: "no domain \(domainName)", evidence: evidence)
            )
        }
        let keys = ["/local/domain/\(id)/serial/0/tty", "/local/domain/\(id)/console/tty"]
        let candidates = serial.map { [$0 ? keys[0] : keys[1]] } ?? keys
        var ttyKey = candidates[0]
        var ttyRead = try await runner.run(["xenstore-read", ttyKey], timeout: .seconds(30))
        evidence.append(ttyRead.evidence)
        if !ttyRead.succeeded, candidates.count > 1 {
            ttyKey = candidates[1]
            ttyRead = try await runner.run(["xenstore-read", ttyKey], timeout: .seconds(30))
            evidence.append(ttyRead.evidence)
        }
        let tty = ttyRead.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard ttyRead.succeeded, tty.hasPrefix("/dev/") else {
            return .missing(
                Outcome(
                    reached: false,
                    status: -1,
                    output: "",
                    problem: "the guest has no console tty (\(ttyKey))",
                    evidence: evidence
                )
            )
        }
        return .found(tty: tty, evidence: evidence)
    }

    /// A console tty and the calls that found it, or why there is none.
    private enum TTYLookup {
        case found(tty: String, evidence: [Evidence])
        case missing(Outcome)
    }

    /// Looks first in xenconsoled's log of the guest, where the host keeps one (`XENCONSOLED_TRACE=guest`: the
    /// whole boot), then reads the tty for a few seconds at a time, a carriage return typed into it each time.
    func watch(for pattern: PlanPattern) async throws -> Outcome {
        let logged = try await runner.run(
            ["tail", "-c", "65536", "/var/log/xen/console/guest-\(domainName).log"],
            timeout: .seconds(15)
        )
        if logged.succeeded, let line = ConsoleText.firstLine(in: logged.stdout, matching: pattern) {
            return Outcome(reached: true, status: 0, output: line, problem: nil, evidence: [logged.evidence])
        }
        let found: (tty: String, evidence: [Evidence])
        switch try await tty() {
        case .missing(let outcome): return outcome
        case .found(let tty, let evidence): found = (tty, evidence)
        }
        var seen = ""
        while true {
            try Task.checkCancellation()
            let reader = Task { try await runner.run(["timeout", "4", "cat", found.tty], timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(300))
            let nudge = try await runner.run(
                ["dd", "of=\(found.tty)", "status=none"],
                timeout: .seconds(15),
                input: "\r"
            )
            let read = try await withTaskCancellationHandler {
                try await reader.value
            } onCancel: {
                reader.cancel()
            }
            seen = String((seen + read.stdout).suffix(65536))
            if let line = ConsoleText.firstLine(in: seen, matching: pattern) {
                return Outcome(
                    reached: true,
                    status: 0,
                    output: line,
                    problem: nil,
                    evidence: found.evidence + [nudge.evidence, read.evidence]
                )
            }
        }
    }

    func exec(_ command: String) async throws -> Outcome {
        let found: (tty: String, evidence: [Evidence])
        switch try await tty() {
        case .missing(let outcome): return outcome
        case .found(let tty, let evidence): found = (tty, evidence)
        }
        let tty = found.tty
        var evidence = found.evidence
        var failedWrites = 0
        while true {
            try Task.checkCancellation()
            let line = GuestConsoleCommand(command)
            let seconds = String(attemptTimeout.milliseconds / 1000)
            let reader = Task {
                try await runner.run(
                    ["timeout", seconds, "sed", "-u", line.endMarkerBRE, tty],
                    timeout: PlanDuration(milliseconds: attemptTimeout.milliseconds + 5000)
                )
            }
            // Give the reader time to open the tty before the guest can answer.
            try await Task.sleep(for: .milliseconds(300))
            let writer = try await runner.run(
                ["dd", "of=\(tty)", "status=none"],
                timeout: .seconds(30),
                input: line.typed
            )
            evidence.append(writer.evidence)
            let read = try await withTaskCancellationHandler {
                try await reader.value
            } onCancel: {
                reader.cancel()
            }
            evidence.append(read.evidence)  // what the guest printed, as read
            if let parsed = line.result(in: read.stdout) {
                return Outcome(
                    reached: true,
                    status: parsed.status,
                    output: parsed.output,
                    problem: nil,
                    evidence: evidence
                )
            }
            // No end marker: the guest's shell was not up yet (or the line was lost), so the line is typed again.
            // A write can fail while the guest boots (seen once in dom0, right after `xl create`): try again, and
            // give up on the third failure in a row.
            failedWrites = writer.succeeded ? 0 : failedWrites + 1
            if failedWrites == 3 {
                let why = writer.stderr.isEmpty ? "exit status \(writer.status)" : writer.stderr
                return Outcome(
                    reached: false,
                    status: -1,
                    output: "",
                    problem: "cannot write to \(tty): \(why)",
                    evidence: evidence
                )
            }
        }
    }

    /// The output between the markers and the exit status; nil when the end marker is missing.
    static func parse(_ text: String, marker: String) -> (status: Int, output: String)? {
        GuestConsoleCommand.parse(text, marker: marker)
    }
}
