import ArgumentParser
import Foundation
import XentestReport
import XentestRun

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a run's reports again from its journal, also for a run that crashed.",
        discussion: """
            Cases that were running or not yet started when the journal ends are reported as interrupted.

            Formats: json (report.json, the whole result), junit (junit.xml), markdown (summary.md, for the \
            TestDay thread), tap (TAP version 13), html (report.html: one page that opens from disk, with each \
            failure's evidence and logs folded), kcidb (KCIDB v5.3 JSON, KernelCI's results schema: the release as \
            a checkout, the host as a build, a test per case, known issues as issues and incidents).

            Examples:
              xentest report results/rc6-20261125T101500Z-host --format markdown
              xentest report results/rc6-... --format junit --output junit.xml
              xentest report results/rc6-... --format kcidb --output kcidb.json
            """
    )

    @Argument(
        help: "A run directory (with journal.jsonl), a journal file, or a report.json.",
        completion: Completions.run
    ) var runDirectory: String

    @Option(help: "The report's format (see Formats above).") var format: ReportFormat = .markdown

    @Option(help: "Write to this file instead of stdout.") var output: String?

    func run() throws {
        let result: RunResult
        do { result = try RunResult.load(run: runDirectory) } catch {
            FileHandle.standardError.write(Data("error: cannot read the run \(error)\n".utf8))
            throw ExitCode(XentestExitStatus.unusable)
        }
        let text = format.render(result)
        if let output { try Console.write(text, toFile: output) } else { print(text, terminator: "") }
    }
}

extension ReportFormat: ExpressibleByArgument {}
