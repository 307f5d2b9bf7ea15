import Foundation
import Synchronization
import XentestRun

/// Progress on stderr: a line per case with status and time; on a terminal, the step running now on a line that
/// is rewritten in place.
final class ConsoleProgress: RunRecorder {
    private let isTerminal: Bool
    private let colour: Bool
    private let state = Mutex<(done: Int, total: Int)>((0, 0))

    /// Progress written to stderr; `isTerminal` decides whether the live line and colour are used, and `NO_COLOR`
    /// (no-color.org: set and not empty) turns the colour off.
    init(
        isTerminal: Bool = isatty(STDERR_FILENO) == 1,
        noColor: Bool = !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
    ) {
        self.isTerminal = isTerminal
        self.colour = isTerminal && !noColor
    }

    func record(_ event: RunEvent) {
        switch event {
        case .runStarted(let header):
            state.withLock { $0 = (0, header.cases.count) }
            write(
                "xentest \(header.xentestVersion): plan \(header.plan) (\(header.release)), \(header.cases.count) cases, "
                    + "\(header.host.toolstack), run \(header.runID)\n"
            )
        case .caseSkipped(let id, _, let reason): line(status: .skip, id: id, seconds: 0, reason: reason)
        case .caseStarted(let id, _, _): if isTerminal { write("\r\u{1B}[K  … \(id)") }
        case .stepEnded(let id, let step, _):
            if isTerminal { write("\r\u{1B}[K  … \(id): \(step.label) \(step.status.rawValue)") }
        case .caseEnded(let id, let status, let reason, _, let duration):
            line(status: status, id: id, seconds: duration, reason: reason)
        case .runEnded(_, let interrupted):
            if interrupted { write("interrupted: teardown done, partial report written\n") }
        }
    }

    private func line(status: CaseStatus, id: String, seconds: Double, reason: String?) {
        let (done, total) = state.withLock { state -> (Int, Int) in
            state.done += 1
            return (state.done, state.total)
        }
        let width = String(total).count
        let counter = String(repeating: " ", count: max(0, width - String(done).count)) + "\(done)/\(total)"
        var label = status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
        if colour {
            let code = status.isFailure ? "31" : status == .pass ? "32" : "33"
            label = "\u{1B}[\(code)m\(label)\u{1B}[0m"
        }
        var text = (isTerminal ? "\r\u{1B}[K" : "") + "[\(counter)] \(label) \(id)  \(String(format: "%.2fs", seconds))"
        if let reason, status != .pass { text += "\n        \(reason)" }
        write(text + "\n")
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
