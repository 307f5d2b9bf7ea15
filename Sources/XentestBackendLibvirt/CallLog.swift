import Dispatch
import Libvirt
import Synchronization
import XentestRun
import XentestSupport

/// Records each libvirt call as evidence: what was called, with what, how it ended and how long it took.
///
/// A reference, shared by the blocking bodies that run off the cooperative pool and the async code around them,
/// so the calls of a step accumulate in one place whichever thread made them. Each call is also told to the
/// step's `StepActivity` (when there is one), where a call that hangs shows.
final class CallLog: Sendable {
    private let entries = Mutex<[Evidence]>([])

    /// The calls made so far, in order.
    var evidence: [Evidence] { entries.withLock { $0 } }

    /// Makes one call, recording it; a `LibvirtError` is recorded and thrown on.
    func call<T>(_ name: String, _ arguments: [String], _ body: () throws -> T) throws -> T {
        let start = DispatchTime.now()
        func seconds() -> Double { start.secondsElapsed }
        let activity = StepActivity.current
        let token = activity?.started([name] + arguments, kind: .api)
        func record(_ entry: Evidence) {
            entries.withLock { $0.append(entry) }
            if let activity, let token { activity.finished(token, entry) }
        }
        do {
            let value = try body()
            record(Evidence(kind: "api", call: name, arguments: arguments, status: 0, durationSeconds: seconds()))
            return value
        } catch let error as LibvirtError {
            record(
                Evidence(
                    kind: "api",
                    call: name,
                    arguments: arguments,
                    status: -1,
                    error: error.message,
                    durationSeconds: seconds()
                )
            )
            throw error
        }
    }

    /// Adds calls made elsewhere (a command on the host's shell).
    func append(_ more: [Evidence]) { entries.withLock { $0 += more } }
}
