import ArgumentParser
import Foundation
import XentestPlan
import XentestRun
import XentestSupport

@main struct Xentest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xentest",
        abstract: "Runs Xen release-candidate test plans through xl and libvirt, and reports the results.",
        discussion: """
            Examples:
              xentest run rc6 --connect test:///default   run the RC6 plan on libvirt's simulated host
              xentest list                      the plans
              xentest list rc6                  the cases of a plan
              xentest validate rc6              check a plan (file:line:col: error: ... and exit 2)
              xentest show rc6 > rc6.md         the plan as test instructions for a tester
            """,
        version: XentestVersion.current,
        subcommands: [
            RunCommand.self, FactsCommand.self, ListCommand.self, ValidateCommand.self, ShowCommand.self,
            ReportCommand.self, CompareCommand.self, SubmitCommand.self, CleanCommand.self, LabCommand.self,
            GuestCommand.self, ImportCommand.self,
        ]
    )

    /// Parses and runs, with usage errors exiting 2 (as plan errors do) rather than ArgumentParser's 64, and every
    /// error message starting `error: `.
    static func main() async {
        // A reader that goes away (`xentest show rc6 | head`) makes a write fail, not SIGPIPE end xentest.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // ArgumentParser writes "Error: "; xentest's own messages, like compilers', write "error: ".
            let message = fullMessage(for: error)
            let code = exitCode(for: error)
            guard code != .success, message.hasPrefix("Error: ") else { exit(withError: error) }
            Console.error("error: " + message.dropFirst("Error: ".count))
            Foundation.exit(code == .validationFailure ? XentestExitStatus.unusable.rawValue : code.rawValue)
        }
    }
}

/// Loads a plan, printing every problem and exiting 2 when it has errors.
func loadPlanOrExit(_ nameOrPath: String) throws -> Plan {
    do {
        let (plan, warnings) = try PlanLoader().load(nameOrPath: nameOrPath)
        Console.diagnostics(warnings)
        return plan
    } catch {
        Console.diagnostics(error.diagnostics)
        throw ExitCode(XentestExitStatus.unusable)
    }
}

/// Loads a host file, printing every problem and exiting 2 when it has errors.
func loadHostConfigOrExit(_ path: String) throws -> HostConfig {
    do { return try HostConfig.load(path: path) } catch {
        Console.diagnostics(error.diagnostics)
        throw ExitCode(XentestExitStatus.unusable)
    }
}
