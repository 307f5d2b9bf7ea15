import Dispatch
import Foundation
import Synchronization
import XentestRun

/// Turns SIGINT and SIGTERM into cancelling the run: the first signal starts teardown, a second one gives up on
/// it and exits 130 at once.
final class Interrupts: @unchecked Sendable {
    // @unchecked: `sources` is set once in init and only released in deinit; `count` is touched on `queue` only.
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "xentest.signals")
    private var count = 0

    /// Calls `onFirst` on the first SIGINT or SIGTERM.
    init(onFirst: @escaping @Sendable (Int32) -> Void) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [unowned self] in
                count += 1
                if count == 1 {
                    let name = signalNumber == SIGINT ? "Ctrl-C" : "SIGTERM"
                    FileHandle.standardError.write(
                        Data("\n\(name): stopping after teardown (again to abandon teardown)\n".utf8)
                    )
                    onFirst(signalNumber)
                } else {
                    FileHandle.standardError.write(
                        Data("teardown abandoned: run `xentest clean` for what is left\n".utf8)
                    )
                    exit(XentestExitStatus.interrupted.rawValue)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// Cancels the run's task, also when the cancel comes before the task exists.
final class RunControl: Sendable {
    private let state = Mutex<(cancel: (@Sendable () -> Void)?, cancelled: Bool)>((nil, false))

    /// The task to cancel; cancelled at once if a signal came first.
    func attach<Success: Sendable>(_ task: Task<Success, any Error>) {
        let cancelNow = state.withLock { state -> Bool in
            state.cancel = { task.cancel() }
            return state.cancelled
        }
        if cancelNow { task.cancel() }
    }

    /// Cancels the task, now or when it is attached.
    func cancel() {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelled = true
            return state.cancel
        }
        cancel?()
    }
}
