import ArgumentParser
import XentestPlan
import XentestRun

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check plans and report every problem as file:line:col: error: ...; exit 2 if any.",
        discussion: "Example: xentest validate rc6 smoke testplans/my-plan.yaml"
    )

    @Argument(help: "Plan names or paths.", completion: Completions.plan) var plans: [String] = []

    @Option(name: .customLong("host-config"), help: "Also check this host file.", completion: Completions.hostFile)
    var hostConfig: String?

    func validate() throws {
        guard !plans.isEmpty || hostConfig != nil else {
            throw ValidationError("name at least one plan (or a --host-config file) to validate")
        }
    }

    func run() throws {
        var failed = false
        for plan in plans {
            do {
                let (loaded, warnings) = try PlanLoader().load(nameOrPath: plan)
                Console.diagnostics(warnings)
                print("\(loaded.path): ok, \(loaded.cases.count) case\(loaded.cases.count == 1 ? "" : "s")")
            } catch {
                Console.diagnostics(error.diagnostics)
                failed = true
            }
        }
        if let hostConfig {
            do {
                _ = try HostConfig.load(path: hostConfig)
                print("\(hostConfig): ok")
            } catch {
                Console.diagnostics(error.diagnostics)
                failed = true
            }
        }
        if failed { throw ExitCode(XentestExitStatus.unusable) }
    }
}
