import ArgumentParser
import Foundation
import Logging
import XentestBackends
import XentestReport
import XentestRun

/// A plan run from the command line (`xentest run`, `xentest lab run`): prepares it, runs it with Ctrl-C turned
/// into teardown, writes the reports and says how it went. Exits with the run's status.
struct PlanRun {
    var options: RunOptions
    var selection: BackendSelection
    var reports: [(ReportFormat, String)]
    var dryRun = false
    var logger: Logger
    /// Where the run is sent when it ends (`--submit`), if anywhere.
    var uploader: RunUploader? = nil

    /// What `xentest run PLAN` would type to try the same plan elsewhere, for advice when there is no Xen here.
    var advice: BackendAdvice { .run(plan: options.plan) }

    /// Runs the plan, then closes what the selection keeps open (a shared SSH connection), whatever happened.
    func execute() async throws {
        do { try await loadRunAndReport() } catch {
            await selection.close()
            throw error
        }
        await selection.close()
    }

    private func loadRunAndReport() async throws {
        // The plan first: a broken plan says so on any machine, with or without a hypervisor.
        let loaded: LoadedRun
        do { loaded = try RunJob.load(options) } catch {
            Console.error(error.lines)
            throw ExitCode(error.status)
        }
        Console.error(loaded.warnings)
        let backend = try makeBackend(selection, advice: advice)
        let prepared: PreparedRun
        do { prepared = try await RunJob.prepare(loaded, options: options, backend: backend, logger: logger) } catch {
            Console.error(error.lines)
            throw ExitCode(error.status)
        }
        if dryRun {
            Console.out(DryRunListing.render(prepared))
            return
        }
        if let leftovers = try? await backend.leftovers(), !leftovers.isEmpty {
            Console.error(
                "warning: \(leftovers.count) object(s) left by earlier runs: \(leftovers.joined(separator: ", ")); "
                    + "remove them with `xentest clean`"
            )
        }
        let outcome = try await runInterruptibly(prepared)
        let result = outcome.result
        do { try RunReports.write(result, into: outcome.directory.path, extra: reports) } catch {
            Console.error("error: cannot write reports: \(error)")
        }
        Console.error(outcome.directory.problems.map { "warning: \($0)" })
        if let comparison = result.baseline {
            let blocking = comparison.blocking.map(\.id).joined(separator: ", ")
            Console.error(
                "since the baseline (run \(comparison.runID) of \(comparison.plan), \(comparison.ranOn)): "
                    + comparison.changeCounts + (blocking.isEmpty ? "" : "; failing the run: " + blocking)
            )
        }
        let counts = CaseStatus.allCases.filter { result.summary.count(of: $0) > 0 }
            .map { "\(result.summary.count(of: $0)) \($0.rawValue)" }
        let seconds = result.finishedAt.timeIntervalSince(result.startedAt)
        Console.error([
            "\(counts.joined(separator: ", ")) in \(String(format: "%.2fs", seconds))",
            "results: \(outcome.directory.path) (summary.md to paste into the TestDay thread)",
        ])
        if result.nothingTested {
            Console.error("warning: nothing was tested: every case was skipped on this host (the reasons are above)")
        }
        if let uploader {
            // A failed upload is said, with the command to send it again; the run's own exit status stands.
            do { Console.error(SubmitTarget.words(try await uploader.submit(run: outcome.directory.path))) } catch {
                Console.error(
                    "error: \(error); send it again with: xentest submit \(outcome.directory.path) --to \(uploader.server)"
                )
            }
        }
        try endUnlessSuccess(outcome.status)
    }

    /// Runs with SIGINT and SIGTERM turned into cancelling the run (teardown, then a partial report), handled
    /// from before the run starts: a Ctrl-C in its first moments must not be lost.
    private func runInterruptibly(_ prepared: PreparedRun) async throws -> RunOutcome {
        let control = RunControl()
        let interrupts = Interrupts { _ in control.cancel() }
        let options = options
        let task = Task {
            try await RunJob.run(prepared, resultsRoot: options.resultsRoot, progress: ConsoleProgress())
        }
        control.attach(task)
        let outcome = await task.result
        withExtendedLifetime(interrupts) {}
        switch outcome {
        case .success(let outcome): return outcome
        case .failure(let error as RunNotStarted):
            Console.error(error.lines)
            throw ExitCode(error.status)
        case .failure(let error):
            Console.error("error: \(error)")
            throw ExitCode(XentestExitStatus.unusable)
        }
    }
}

/// The words of advice when there is no Xen host here, in terms of the command the tester typed.
enum BackendAdvice {
    case run(plan: String)
    case facts
    case clean

    /// What to do instead, after `error` says what is missing.
    func message(for error: NoXenHost) -> String {
        if error.libvirtAsked {
            return "\(error); name a URI with --connect (test:///default for libvirt's simulated host, "
                + "qemu:///system for QEMU)"
        }
        switch self {
        case .run(let plan):
            return "\(error). Run on a Xen host's dom0, name one with --host ssh://root@HOST, boot one with "
                + "`xentest lab run \(plan)`, or try xentest on libvirt's simulated host: "
                + "xentest run \(plan) --connect test:///default"
        case .facts:
            return "\(error). Run on a Xen host's dom0, name one with --host ssh://root@HOST, boot one with "
                + "`xentest lab up`, or try xentest on libvirt's simulated host: xentest facts --connect test:///default"
        case .clean:
            return "\(error). Run on a Xen host's dom0, name one with --host ssh://root@HOST, or name a libvirt URI "
                + "with --connect (qemu:///system, say)"
        }
    }
}

/// The backend a selection names, or exit 2 with what to do instead.
func makeBackend(_ selection: BackendSelection, advice: BackendAdvice) throws -> any Backend {
    do { return try BackendFactory.make(selection) } catch let error as NoXenHost {
        Console.error("error: " + advice.message(for: error))
    } catch { Console.error("error: \(error)") }
    throw ExitCode(XentestExitStatus.unusable)
}
