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
/// cancels the operation and waits for it to end, up to `cancelGrace`, then throws `CancellationError`: what it was
/// doing (a guest being defined) is done or abandoned before the caller tears down, and an operation the caller
/// was cancelled before is never started.
package func withDeadline<T: Sendable>(
    _ limit: PlanDuration,
    cancelGrace: PlanDuration = .seconds(5),
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let gate = ResumeOnce<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            gate.set(continuation)
            let deadline = TaskDeadline.earliest(Date().addingTimeInterval(Double(limit.milliseconds) / 1000))
            let started = gate.start {
                Task {
                    do {
                        let value = try await TaskDeadline.$current.withValue(deadline) { try await operation() }
                        gate.resume(with: .success(value))
                    } catch { gate.resume(with: .failure(error)) }
                }
            }
            guard let work = started else { return }
            // A Dispatch timer, not a sleeping task: cancelling it frees it at once, so thousands of short steps
            // with long timeouts do not pile up sleeping tasks.
            let timer = OneShotTimer(after: limit) {
                if gate.resume(with: .failure(DeadlineExceeded(limit: limit))) { work.cancel() }
            }
            gate.onFinish { timer.cancel() }
        }
    } onCancel: {
        gate.cancel(grace: cancelGrace)
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

/// Resumes a continuation exactly once, whichever of result, timeout or cancellation comes first; a cancellation
/// waits for the work it cancels (up to a grace), and is what the caller sees.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var pending: Result<T, any Error>?
    private var finished = false
    /// Set by `cancel`: every result is then `CancellationError`.
    private var cancelling = false
    private var work: Task<Void, Never>?
    private var finishHandlers: [@Sendable () -> Void] = []

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

    /// Starts the work with `make`, unless the wait has already ended or is being cancelled: nil then.
    func start(_ make: () -> Task<Void, Never>) -> Task<Void, Never>? {
        lock.lock()
        defer { lock.unlock() }
        guard !finished, !cancelling else { return nil }
        let made = make()
        work = made
        return made
    }

    /// True when this call was the one that resumed.
    @discardableResult func resume(with result: Result<T, any Error>) -> Bool {
        lock.lock()
        guard !finished else {
            lock.unlock()
            return false
        }
        finished = true
        let result = cancelling ? .failure(CancellationError()) : result
        let continuation = self.continuation
        self.continuation = nil
        if continuation == nil { pending = result }
        let handlers = finishHandlers
        finishHandlers = []
        work = nil
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

    /// Cancels the work and resumes with `CancellationError` when it has ended, or after `grace`; at once when no
    /// work was started.
    func cancel(grace: PlanDuration) {
        lock.lock()
        guard !finished, !cancelling else {
            lock.unlock()
            return
        }
        cancelling = true
        let work = self.work
        lock.unlock()
        guard let work else {
            resume(with: .failure(CancellationError()))
            return
        }
        work.cancel()
        let timer = OneShotTimer(after: grace) { [self] in resume(with: .failure(CancellationError())) }
        onFinish { timer.cancel() }
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
