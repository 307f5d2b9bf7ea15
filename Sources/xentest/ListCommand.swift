import ArgumentParser
import XentestPlan
import XentestReport

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the plans, or the cases of one plan with their area, backends and prerequisites.",
        discussion: "Example: xentest list rc6"
    )

    @Argument(help: "A plan name (rc6) or path; without it, the plans found.", completion: Completions.plan) var plan:
        String?

    func run() throws {
        guard let plan else {
            let plans = PlanLoader.availablePlans()
            for (name, path) in plans {
                let title =
                    (try? PlanLoader().load(path: path).plan.title) ?? "(does not validate: xentest validate \(name))"
                print("\(name)\t\(title)")
            }
            return
        }
        print(PlanListing.render(try loadPlanOrExit(plan)), terminator: "")
    }
}
