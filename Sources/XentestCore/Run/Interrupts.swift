import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into cancelling the run: the first signal starts teardown, a second one gives up on
/// it and exits 130 at once.
public final class Interrupts: @unchecked Sendable {
    // @unchecked: `sources` is set once in init and only released in deinit; `count` is touched on `queue` only.
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "xentest.signals")
    private var count = 0

    /// Calls `onFirst` on the first SIGINT or SIGTERM.
    public init(onFirst: @escaping @Sendable (Int32) -> Void) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [unowned self] in
                count += 1
                if count == 1 {
                    let name = signalNumber == SIGINT ? "Ctrl-C" : "SIGTERM"
                    FileHandle.standardError.write(Data("\n\(name): stopping after teardown (again to abandon teardown)\n".utf8))
                    onFirst(signalNumber)
                } else {
                    FileHandle.standardError.write(Data("teardown abandoned: run `xentest clean` for what is left\n".utf8))
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        sources.forEach { $0.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
