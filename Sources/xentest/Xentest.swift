import ArgumentParser
import Foundation
import XentestCore

@main
struct Xentest: AsyncParsableCommand {
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
        subcommands: [RunCommand.self, FactsCommand.self, ListCommand.self, ValidateCommand.self, ShowCommand.self, ReportCommand.self, CompareCommand.self, CleanCommand.self, LabCommand.self, GuestCommand.self]
    )

    /// Parses and runs, with usage errors exiting 2 (as plan errors do) rather than ArgumentParser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Prints diagnostics compiler-style on stderr.
func printDiagnostics(_ diagnostics: [Diagnostic]) {
    guard !diagnostics.isEmpty else { return }
    let text = diagnostics.map(\.description).joined(separator: "\n") + "\n"
    FileHandle.standardError.write(Data(text.utf8))
}

/// Loads a plan, printing every problem and exiting 2 when it has errors.
func loadPlanOrExit(_ nameOrPath: String) throws -> Plan {
    do {
        let (plan, warnings) = try PlanLoader().load(nameOrPath: nameOrPath)
        printDiagnostics(warnings)
        return plan
    } catch {
        printDiagnostics(error.diagnostics)
        throw ExitCode(2)
    }
}

/// Loads a host file, printing every problem and exiting 2 when it has errors.
func loadHostConfigOrExit(_ path: String) throws -> HostConfig {
    do {
        return try HostConfig.load(path: path)
    } catch {
        printDiagnostics(error.diagnostics)
        throw ExitCode(2)
    }
}
