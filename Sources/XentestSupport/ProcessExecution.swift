import Dispatch
import Foundation
import Synchronization

/// Starting a process, feeding it, reading both streams without blocking each other, and ending it on time.
///
/// Processes are spawned with `posix_spawnp` and waited for with `waitid`, not through Foundation's `Process`: on
/// Linux, `Process` learns that a child exited when a socket it hands the child closes, and a daemon the command
/// leaves behind inherits that socket. `xl create` leaves one (its domain-monitoring child): run in dom0, it never
/// ended for `Process`, and every `create` step timed out with the guest up.
enum ProcessExecution {
    /// Standard input as an unlinked temporary file: the command sees end-of-file at once, and nothing can block
    /// on a pipe nobody reads.
    static func inputDescriptor(_ text: String) throws -> Int32 {
        let path = NSTemporaryDirectory() + "/xentest-stdin-\(UUID().uuidString)"
        try FileWrites.writeAll(Data(text.utf8), toNewFile: path)
        defer { unlink(path) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CommandNotStarted(argv: [], reason: "cannot open a temporary file for standard input")
        }
        return descriptor
    }

    static func run(_ argv: [String], timeout: PlanDuration, input: String?, outputLimit: Int) async throws
        -> CommandResult
    {
        guard !argv.isEmpty else { throw CommandNotStarted(argv: argv, reason: "empty command") }
        let stdinDescriptor = try input.map(Self.inputDescriptor) ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(stdinDescriptor) }
        let stdoutPipe = try ChildPipe()
        let stderrPipe = try ChildPipe()
        let start = DispatchTime.now()
        let pid: pid_t
        do {
            pid = try spawn(argv, stdin: stdinDescriptor, stdout: stdoutPipe.writing, stderr: stderrPipe.writing)
        } catch {
            for descriptor in [stdoutPipe.reading, stdoutPipe.writing, stderrPipe.reading, stderrPipe.writing] {
                close(descriptor)
            }
            throw error
        }
        // The child has its own copies now; ours would keep the readers from ever seeing end-of-file.
        close(stdoutPipe.writing)
        close(stderrPipe.writing)

        let child = SpawnedChild(pid: pid)
        let stdout = StreamCollector(limit: outputLimit)
        let stderr = StreamCollector(limit: outputLimit)
        let timedOut = Atomic<Bool>(false)
        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
                let streams = DispatchGroup()
                for (descriptor, collector) in [(stdoutPipe.reading, stdout), (stderrPipe.reading, stderr)] {
                    streams.enter()
                    DispatchQueue.global()
                        .async {
                            collector.drain(descriptor)
                            close(descriptor)
                            streams.leave()
                        }
                }
                let timer = OneShotTimer(after: timeout) {
                    if child.stop() { timedOut.store(true, ordering: .relaxed) }
                }
                DispatchQueue.global()
                    .async {
                        let status = child.waitForExit()
                        timer.cancel()
                        // Both streams are read to their end before the result is built; something the command left
                        // running in the background may hold them open, so that wait is bounded.
                        _ = streams.wait(timeout: .now() + 5)
                        continuation.resume(returning: status)
                    }
            }
        } onCancel: {
            child.stop()
        }
        let seconds = start.secondsElapsed
        return CommandResult(
            argv: argv,
            status: status,
            stdout: stdout.text,
            stderr: stderr.text,
            durationSeconds: seconds,
            timedOut: timedOut.load(ordering: .relaxed)
        )
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module does not
    /// export: looked up once. Without it, only descriptors marked close-on-exec stay out of the child, which is why
    /// pipes are made and marked under `spawnLock`.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: CloseFrom.self) }

    /// Held while a pipe is made and marked close-on-exec, and while a process is spawned, so that no spawn falls
    /// between the two (Swift's Glibc module has no pipe2).
    static let spawnLock = NSLock()

    /// Starts `argv` (found on PATH) with these descriptors as its standard streams and no other: every descriptor
    /// from 3 up is closed in the child, so no command holds another's pipes. The child leads a process group of its
    /// own (a time limit signals the whole group), with no signal blocked and every signal's handling at its
    /// default: xentest ignores SIGPIPE, and SIGINT and SIGTERM during a run, and Dispatch's threads block nearly
    /// every signal, none of which a command should inherit.
    static func spawn(_ argv: [String], stdin: Int32, stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        if let closeFrom = closeFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        )

        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let status = spawnLock.withLock { posix_spawnp(&pid, argv[0], &actions, &attributes, &cArguments, environ) }
        guard status == 0 else {
            let reason =
                status == ENOENT ? "\(argv[0]) is not installed or not on PATH" : String(cString: strerror(status))
            throw CommandNotStarted(argv: argv, reason: reason)
        }
        return pid
    }
}

/// A spawned child: waited for once, and signalled only while it has not been reaped, when its pid can no longer
/// belong to another process.
final class SpawnedChild: Sendable {
    let pid: pid_t
    /// Whether the child has been reaped; signals are sent under this lock, so never after.
    private let reaped = Mutex<Bool>(false)
    /// Whether SIGTERM was sent; SIGKILL follows two seconds later if the child still runs.
    private let stopping = Atomic<Bool>(false)

    init(pid: pid_t) { self.pid = pid }

    /// Blocks until the child exits, reaps it, and returns its status (128+N when signal N ended it).
    func waitForExit() -> Int32 {
        // Wait without reaping first, so the pid stays the child's while `stop` may still signal it.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
        var status: Int32 = 0
        reaped.withLock { reaped in
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            reaped = true
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Whether the child has exited (reaped or not), without waiting.
    func hasExited() -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return true }
        return info.si_signo != 0  // waitid leaves it 0 when WNOHANG found no change
    }

    /// SIGTERM to its process group, then SIGKILL two seconds later; false when it had already exited.
    @discardableResult func stop() -> Bool {
        guard send(SIGTERM) else { return false }
        if !stopping.exchange(true, ordering: .relaxed) {
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in _ = self.send(SIGKILL) }
        }
        return true
    }

    /// Sends `number` to the child's group (or the child alone), unless it was reaped; whether it was sent.
    private func send(_ number: Int32) -> Bool {
        reaped.withLock { reaped in
            guard !reaped else { return false }
            if kill(-pid, number) != 0 { kill(pid, number) }
            return true
        }
    }
}

/// A pipe whose ends are close-on-exec in this process: no other command may inherit them, or this command's reader
/// waits for that one to exit too (`spawn` also closes every descriptor past the standard three in the child).
struct ChildPipe {
    let reading: Int32
    let writing: Int32

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        let made = ProcessExecution.spawnLock.withLock {
            guard pipe(&descriptors) == 0 else { return false }
            _ = fcntl(descriptors[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptors[1], F_SETFD, FD_CLOEXEC)
            return true
        }
        guard made else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        reading = descriptors[0]
        writing = descriptors[1]
    }
}

/// Collects one stream up to a limit, reading on past it so the writer never blocks.
private final class StreamCollector: Sendable {
    private let limit: Int
    private let state = Mutex<(data: Data, dropped: Int)>((Data(), 0))

    init(limit: Int) { self.limit = limit }

    /// Reads `descriptor` to its end.
    func drain(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            state.withLock { state in
                let room = max(0, limit - state.data.count)
                state.data.append(contentsOf: buffer[0..<min(count, room)])
                state.dropped += max(0, count - room)
            }
        }
    }

    var text: String {
        state.withLock { state in
            String(decoding: state.data, as: UTF8.self)
                + (state.dropped > 0 ? "\n[\(state.dropped) more bytes dropped]" : "")
        }
    }
}
