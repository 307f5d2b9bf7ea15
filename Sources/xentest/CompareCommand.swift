import ArgumentParser
import Foundation
import XentestReport
import XentestRun

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Runs of a plan side by side: each case's verdict per run, and where they differ.",
        discussion: """
            A column per run (read from its journal), a row per case. Cases whose verdicts disagree among the runs \
            that tried them are marked and listed with their reasons; a skip is not a verdict, xfail counts as \
            failed and xpass as passed. Exit status 0, or 1 with --fail-on-difference when a case differs.
            Examples:
              xentest compare results/rc6-*-vm results/rc6-*-xentest-lab
              xentest compare results/rc6-A results/rc6-B --output backends.md
            """
    )

    @Argument(
        help: "Run directories (with journal.jsonl), journal files or report.json files; two or more.",
        completion: Completions.run
    ) var runs: [String]

    @Option(help: "Write the Markdown table to this file instead of stdout.") var output: String?

    @Flag(help: "Exit 1 when a case's verdicts differ.") var failOnDifference = false

    func validate() throws { guard runs.count >= 2 else { throw ValidationError("give two or more runs to compare") } }

    func run() throws {
        var results: [RunResult] = []
        for run in runs {
            do { results.append(try RunResult.load(run: run)) } catch {
                FileHandle.standardError.write(Data("error: cannot read the run \(error)\n".utf8))
                throw ExitCode(XentestExitStatus.unusable)
            }
        }
        let comparison = RunComparison(results)
        let text = comparison.markdown()
        if let output { try Console.write(text, toFile: output) } else { print(text, terminator: "") }
        if failOnDifference && !comparison.differences.isEmpty { throw ExitCode(XentestExitStatus.failed) }
    }
}
