import Foundation
import Synchronization
import XentestRun

/// Progress on stderr: a line per case with status and time; on a terminal, below them, a line per running case
/// with its latest step, rewritten in place.
final class ConsoleProgress: RunRecorder {
    private let isTerminal: Bool
    private let colour: Bool
    private let state = Mutex<(done: Int, total: Int)>((0, 0))
    /// The running cases' live lines, in the order they started, and how many lines are on the screen now.
    private let live = Mutex<(lines: [(id: String, text: String)], shown: Int)>(([], 0))

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
        case .caseStarted(let id, _, _): showLive(id, "  … \(id)")
        case .stepEnded(let id, let step, _): showLive(id, "  … \(id): \(step.label) \(step.status.rawValue)")
        case .caseEnded(let id, let status, let reason, _, let duration):
            line(status: status, id: id, seconds: duration, reason: reason, ending: id)
        case .runEnded(_, let interrupted):
            if interrupted { write("interrupted: teardown done, partial report written\n") }
        }
    }

    /// Sets a running case's live line (on a terminal).
    private func showLive(_ id: String, _ text: String) {
        guard isTerminal else { return }
        live.withLock { live in
            if let index = live.lines.firstIndex(where: { $0.id == id }) {
                live.lines[index].text = text
            } else {
                live.lines.append((id, text))
            }
        }
        redrawLive(above: nil)
    }

    /// Clears the live lines, writes `permanent` (if any) in their place, and draws the live lines again below it.
    private func redrawLive(above permanent: String?) {
        let text = live.withLock { live -> String in
            // Back to the first live line, clearing each on the way.
            var text = "\r\u{1B}[K" + String(repeating: "\u{1B}[1A\r\u{1B}[K", count: max(0, live.shown - 1))
            text += permanent ?? ""
            let width = Self.terminalWidth
            text += live.lines.map { String($0.text.prefix(width - 1)) }.joined(separator: "\n")
            live.shown = live.lines.count
            return text
        }
        write(text)
    }

    private static var terminalWidth: Int {
        var size = winsize()
        return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 10 ? Int(size.ws_col) : 120
    }

    private func line(status: CaseStatus, id: String, seconds: Double, reason: String?, ending: String? = nil) {
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
        var text = "[\(counter)] \(label) \(id)  \(String(format: "%.2fs", seconds))"
        if let reason, status != .pass { text += "\n        \(reason)" }
        guard isTerminal else { return write(text + "\n") }
        if let ending { live.withLock { live in live.lines.removeAll { $0.id == ending } } }
        redrawLive(above: text + "\n")
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
