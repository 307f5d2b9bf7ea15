import Foundation
import XentestSupport

/// What one command over SSH costs, a connection a command against one shared connection (`SSHConnectionSharing`):
/// the same small commands, through `SSHCommandRunner`, as a run sends them.
enum TransportBench {
    /// Small commands a run sends often: they cost little on the host, so their time is the transport's.
    static let commands: [[String]] = [["true"], ["xl", "domid", "Domain-0"], ["cat", "/proc/uptime"]]

    struct Figures {
        var label: String
        var seconds: [Double]
        var first: Double

        var median: Double { seconds.sorted()[seconds.count / 2] }
        var mean: Double { seconds.reduce(0, +) / Double(seconds.count) }
        var p90: Double { seconds.sorted()[min(seconds.count - 1, seconds.count * 9 / 10)] }
    }

    /// Runs every command `rounds` times through `runner`; the first command (which opens the master when the
    /// connection is shared) is reported apart.
    static func measure(_ label: String, _ runner: SSHCommandRunner, rounds: Int) async throws -> Figures {
        var seconds: [Double] = []
        var first: Double?
        for _ in 0..<rounds {
            for argv in commands {
                let start = ContinuousClock.now
                let result = try await runner.run(argv, timeout: .seconds(30))
                guard result.succeeded else {
                    throw BenchError("\(argv.joined(separator: " ")) failed over SSH: \(result.stderr)")
                }
                let elapsed = start.duration(to: .now)
                let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                if first == nil { first = value } else { seconds.append(value) }
            }
        }
        return Figures(label: label, seconds: seconds, first: first ?? 0)
    }

    /// `xentest-bench transport ssh://USER@HOST:PORT [--identity FILE] [--known-hosts FILE] [--rounds N]`.
    static func main(_ arguments: ArraySlice<String>) async throws {
        var rest = arguments
        var url: String?
        var identity: String?
        var knownHosts: String?
        var rounds = 30
        while let argument = rest.popFirst() {
            switch argument {
            case "--identity": identity = rest.popFirst()
            case "--known-hosts": knownHosts = rest.popFirst()
            case "--rounds": rounds = max(2, Int(rest.popFirst() ?? "") ?? 30)
            default: url = argument
            }
        }
        guard let url, var runner = SSHCommandRunner(url: url) else {
            throw BenchError(
                "usage: xentest-bench transport ssh://USER@HOST:PORT [--identity F] [--known-hosts F] [--rounds N]"
            )
        }
        runner.identityFile = identity
        runner.knownHostsFile = knownHosts
        let separate = try await measure("a connection a command", runner, rounds: rounds)
        let multiplexing = try SSHConnectionSharing(shellSessions: false)
        var multiplexed = runner
        multiplexed.sharing = multiplexing
        let perCommand = try await measure("one shared connection, an ssh a command", multiplexed, rounds: rounds)
        await multiplexing.close()
        let sharing = try SSHConnectionSharing()
        var shared = runner
        shared.sharing = sharing
        let inShell = try await measure("one shared connection, one shell", shared, rounds: rounds)
        await sharing.close()
        let leftOver = [multiplexing, sharing].contains { FileManager.default.fileExists(atPath: $0.directory) }

        print("SSH transport (\(runner)), \(rounds) rounds of: ")
        print("  " + commands.map { $0.joined(separator: " ") }.joined(separator: "; "))
        print("| transport | first command | median | mean | p90 | commands |")
        print("|---|---:|---:|---:|---:|---:|")
        for figures in [separate, perCommand, inShell] {
            print(
                String(
                    format: "| %@ | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %d |",
                    figures.label,
                    figures.first * 1000,
                    figures.median * 1000,
                    figures.mean * 1000,
                    figures.p90 * 1000,
                    figures.seconds.count
                )
            )
        }
        print(
            String(
                format: "per-command overhead saved against a connection a command: %.0f ms (an ssh a command), "
                    + "%.0f ms (one shell) (medians)",
                (separate.median - perCommand.median) * 1000,
                (separate.median - inShell.median) * 1000
            )
        )
        print("control folder removed after close: \(leftOver ? "NO" : "yes")")
    }
}
