import ArgumentParser
import XentestBackendXL
import XentestPlan

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a plan as Markdown test instructions, with the xl commands a tester would type.",
        discussion: "Example: xentest show rc6 --host-config host.yaml > rc6-instructions.md"
    )

    @Argument(help: "A plan name (rc6) or path.", completion: Completions.plan) var plan: String

    @Option(
        name: .customLong("host-config"),
        help: "Fill in devices, bridge and guest files from this host file.",
        completion: Completions.hostFile
    ) var hostConfig: String?

    func run() throws {
        let loaded = try loadPlanOrExit(plan)
        let host = try hostConfig.map(loadHostConfigOrExit) ?? .empty(source: "none")
        print(
            PlanInstructionsRenderer.render(
                loaded,
                host: host,
                runAs: PlanLoader.commandLineName(of: loaded),
                hostFile: hostConfig
            ),
            terminator: ""
        )
    }
}
