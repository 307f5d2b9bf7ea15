import Foundation

/// A step or teardown took longer than its time limit.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    /// The time limit that was exceeded.
    public var limit: PlanDuration
    /// `did not finish within LIMIT`.
    public var description: String { "did not finish within \(limit)" }
}

/// Runs `operation` and gives up waiting after `limit`.
///
/// The operation runs in its own task, so a blocking call that ignores cancellation (a hung libvirt call) cannot
/// hold the run: the runner stops waiting, the task is cancelled, and the run goes on. Cancelling the caller
/// stops the wait at once with `CancellationError`.
package func withDeadline<T: Sendable>(_ limit: PlanDuration, _ operation: @escaping @Sendable () async throws -> T)
    async throws -> T
{
    let gate = ResumeOnce<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            gate.set(continuation)
            let deadline = TaskDeadline.earliest(Date().addingTimeInterval(Double(limit.milliseconds) / 1000))
            let work = Task {
                do {
                    let value = try await TaskDeadline.$current.withValue(deadline) { try await operation() }
                    gate.resume(with: .success(value))
                } catch { gate.resume(with: .failure(error)) }
            }
            // A Dispatch timer, not a sleeping task: cancelling it frees it at once, so thousands of short steps
            // with long timeouts do not pile up sleeping tasks.
            let timer = OneShotTimer(after: limit) {
                if gate.resume(with: .failure(DeadlineExceeded(limit: limit))) { work.cancel() }
            }
            gate.onFinish { timer.cancel() }
            gate.onCancel { work.cancel() }
        }
    } onCancel: {
        gate.cancel()
    }
}

/// The time by which the work of the current task must end, as set by `withDeadline`: commands started under it
/// take no longer, so that a command on another host ends there too when the step's time is up (cancelling the
/// local ssh alone would leave it running).
public enum TaskDeadline {
    /// The deadline of the current task; nil outside `withDeadline`.
    @TaskLocal public static var current: Date?

    /// `candidate`, or the current deadline when that comes first.
    static func earliest(_ candidate: Date) -> Date {
        guard let current, current < candidate else { return candidate }
        return current
    }

    /// `timeout`, shortened to the time left before the current deadline (at least 1 ms).
    public static func limit(_ timeout: PlanDuration, now: Date = Date()) -> PlanDuration {
        guard let current else { return timeout }
        let left = Int((current.timeIntervalSince(now) * 1000).rounded(.up))
        return PlanDuration(milliseconds: max(1, min(timeout.milliseconds, left)))
    }
}

/// Resumes a continuation exactly once, whichever of result, timeout or cancellation comes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var pending: Result<T, any Error>?
    private var finished = false
    private var finishHandlers: [@Sendable () -> Void] = []
    private var cancelHandlers: [@Sendable () -> Void] = []

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        lock.lock()
        if let pending {
            lock.unlock()
            continuation.resume(with: pending)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    /// True when this call was the one that resumed.
    @discardableResult func resume(with result: Result<T, any Error>) -> Bool {
        lock.lock()
        guard !finished else {
            lock.unlock()
            return false
        }
        finished = true
        let continuation = self.continuation
        self.continuation = nil
        if continuation == nil { pending = result }
        let handlers = finishHandlers
        finishHandlers = []
        lock.unlock()
        continuation?.resume(with: result)
        for handler in handlers { handler() }
        return true
    }

    func onFinish(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        if finished {
            lock.unlock()
            handler()
            return
        }
        finishHandlers.append(handler)
        lock.unlock()
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        cancelHandlers.append(handler)
        lock.unlock()
    }

    func cancel() {
        lock.lock()
        let handlers = cancelHandlers
        lock.unlock()
        if resume(with: .failure(CancellationError())) { for handler in handlers { handler() } }
    }
}

/// Runs a closure once after a delay, unless cancelled first.
///
/// A timer source with a small, explicit leeway: `asyncAfter` on Linux lets Dispatch coalesce the deadline by up
/// to most of a second, which a 300 ms time limit cannot afford.
package final class OneShotTimer: @unchecked Sendable {
    // @unchecked: the source is only resumed here and cancelled through its thread-safe `cancel()`.
    private let source: any DispatchSourceTimer

    package init(after delay: PlanDuration, _ body: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeTimerSource(queue: .global())
        source.schedule(deadline: .now() + .milliseconds(delay.milliseconds), leeway: .milliseconds(5))
        source.setEventHandler(handler: body)
        source.resume()
    }

    /// Stops it from firing, if it has not yet.
    package func cancel() { source.cancel() }

    deinit { source.cancel() }
}
