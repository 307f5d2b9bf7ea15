import Foundation
import Testing
@testable import XentestSupport

/// The shells that carry many commands over one SSH connection (`ShellSession`), launched here as a local `sh`: the
/// same protocol, line and markers as through `ssh HOST -- exec sh` (the lab's tests run it over SSH).
@Suite("Shells kept open for many commands") struct ShellSessionTests {
    let launch = ["sh"]

    func run(
        _ pool: ShellSessionPool,
        _ argv: [String],
        input: String? = nil,
        limit: PlanDuration = .seconds(30),
        outputLimit: Int = 1 << 20
    ) async throws -> CommandResult {
        try await pool.run(
            ShellSession.commandLine(argv, input: input),
            launch: launch,
            limit: limit,
            outputLimit: outputLimit
        )
    }

    @Test("a marker is found however the stream is cut, and only the command's bytes are its output")
    func markedStream() {
        let wire = Array("out\nno newline at the end\nxentest-end-1a2b 7\nstray".utf8)
        for cut in 0...wire.count {
            var stream = MarkedStream()
            stream.expect(marker: "xentest-end-1a2b", limit: 1000)
            stream.append(wire[..<cut])
            stream.append(wire[cut...])
            #expect(stream.status == 7, "cut at \(cut)")
            #expect(stream.text == "out\nno newline at the end", "cut at \(cut)")
        }
        var other = MarkedStream()
        other.expect(marker: "xentest-end-1a2b", limit: 1000)
        other.append(Array("xentest-end-1a2b 0\nxentest-end-ffff 0\n".utf8)[...])
        #expect(other.status == nil, "a marker needs the shell's newline before it, and only its own nonce counts")
        other.finish()
        #expect(other.text == "xentest-end-1a2b 0\nxentest-end-ffff 0\n")
        var limited = MarkedStream()
        limited.expect(marker: "m", limit: 4)
        limited.append(Array("abcdefgh\nm 0\n".utf8)[...])
        #expect(limited.status == 0 && limited.text == "abcd\n[4 more bytes dropped]")
    }

    @Test("commands run one after another in one shell: argv, input, both streams and status as a process gives them")
    func commandsInOneShell() async throws {
        let pool = ShellSessionPool()
        let tricky = ["/local/domain/{domid}/x y", "it's", "$(reboot)", "a;b", "", "two\nlines", "xentest-end-0 0"]
        let printed = try await run(pool, ["printf", "<%s>\\n"] + tricky)
        #expect(printed.stdout == tricky.map { "<\($0)>" }.joined(separator: "\n") + "\n")
        #expect(printed.status == 0 && printed.stderr.isEmpty && !printed.timedOut)

        // Input arrives exactly: no newline added, quotes, a carriage return, a line like a marker.
        for input in ["\r", "no newline", "it's \"quoted\"\n$(x) `y`\n", "\nxentest-end-0 0\n", ""] {
            let echoed = try await run(pool, ["cat"], input: input)
            #expect(echoed.stdout == input && echoed.status == 0, "\(echoed)")
        }
        let streams = try await run(pool, ["sh", "-c", "echo out; echo err >&2; printf partial; exit 3"])
        #expect(streams.status == 3 && streams.stdout == "out\npartial" && streams.stderr == "err\n")
        // A command reading its standard input without any given reads nothing: not the shell's next lines.
        let reader = try await run(pool, ["cat"])
        #expect(reader.stdout.isEmpty && reader.status == 0)
        let missing = try await run(pool, ["xentest-no-such-program"])
        #expect(missing.status == 127 && missing.stderr.contains("xentest-no-such-program"))
        // All of that in one shell, kept for the next command.
        let parents = try await [
            run(pool, ["sh", "-c", "echo $PPID"]).stdout, run(pool, ["sh", "-c", "echo $PPID"]).stdout,
        ]
        #expect(parents[0] == parents[1] && pool.idleCount == 1, "\(parents)")
        await pool.close()
        #expect(pool.idleCount == 0 && !pool.isOpen)
    }

    @Test("output past the limit is dropped and counted; the shell goes on") func outputLimit() async throws {
        let pool = ShellSessionPool()
        let big = try await run(pool, ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"], outputLimit: 1000)
        #expect(big.stdout.hasPrefix(String(repeating: "x", count: 1000)))
        #expect(big.stdout.hasSuffix("\n[299000 more bytes dropped]"), "\(big.stdout.suffix(60))")
        #expect(try await run(pool, ["echo", "next"]).stdout == "next\n")
        #expect(pool.idleCount == 1)
        await pool.close()
    }

    @Test("a command past its local limit kills its shell, says it timed out; the next command gets a new shell")
    func localLimit() async throws {
        let pool = ShellSessionPool()
        let first = try await run(pool, ["sh", "-c", "echo $PPID"]).stdout
        let hung = try await run(pool, ["sh", "-c", "echo started; sleep 60"], limit: PlanDuration(milliseconds: 500))
        #expect(hung.timedOut && hung.durationSeconds < 10, "\(hung)")
        #expect(hung.stdout == "started\n", "what it wrote before the limit is kept")
        #expect(pool.idleCount == 0, "a killed shell is not kept")
        let second = try await run(pool, ["sh", "-c", "echo $PPID"]).stdout
        #expect(!second.isEmpty && second != first, "a new shell: \(first) \(second)")
        await pool.close()
    }

    @Test("cancelling the task kills the shell and returns without waiting for the command") func cancellation()
        async throws
    {
        let pool = ShellSessionPool()
        let start = Date()
        let task = Task { try await run(pool, ["sleep", "600"]) }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let result = try await task.value
        // Far less than the command's 600 s, however loaded the machine (its cancel may even come before the shell
        // answered: then no command ran).
        #expect(Date().timeIntervalSince(start) < 300 && !result.succeeded, "\(result)")
        #expect(result.status == 128 + 15 || result.status == 128 + 9, "killed: \(result)")
        #expect(pool.idleCount == 0)
        await pool.close()
    }

    @Test("commands at the same time each get a shell; both are kept") func concurrentCommands() async throws {
        let pool = ShellSessionPool()
        async let one = run(pool, ["sh", "-c", "sleep 0.5; echo one"])
        async let two = run(pool, ["sh", "-c", "sleep 0.5; echo two"])
        let results = try await [one, two]
        #expect(results.map(\.stdout) == ["one\n", "two\n"])
        #expect(pool.idleCount == 2)
        await pool.close()
    }

    @Test("a launch that never answers is the command's result: its status and words, no command run")
    func failedStart() async throws {
        let pool = ShellSessionPool()
        let refused = try await pool.run(
            ShellSession.commandLine(["touch", "/tmp/xentest-never"], input: nil),
            launch: ["sh", "-c", "echo 'ssh: connect to host x port 22: Connection refused' >&2; exit 255"],
            limit: .seconds(10),
            outputLimit: 1000
        )
        #expect(refused.status == 255 && refused.stderr.contains("Connection refused"), "\(refused)")
        #expect(pool.idleCount == 0)
        await #expect(throws: CommandNotStarted.self) {
            try await pool.run(":", launch: ["xentest-no-such-ssh"], limit: .seconds(5), outputLimit: 10)
        }
    }

    @Test("a shell that dies during a command: the command's result says so, the next one gets a new shell")
    func shellDies() async throws {
        let pool = ShellSessionPool()
        // The command kills the shell that runs it.
        let died = try await run(pool, ["sh", "-c", "echo before; kill -9 $PPID; sleep 1"])
        #expect(died.stdout.hasPrefix("before") && died.status == 128 + 9, "\(died)")
        #expect(try await run(pool, ["echo", "again"]).stdout == "again\n")
        await pool.close()
    }
}
