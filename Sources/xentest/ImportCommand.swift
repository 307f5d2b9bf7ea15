import ArgumentParser
import XentestPlan
import XentestRun

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Print the plan guest xentest understands from an xl or xm config file, and what it leaves out.",
        discussion: """
            The guest goes to stdout as YAML to paste under a case's 'guest:'; what could not be carried over goes to \
            stderr as FILE:LINE: key: why. Exit 0 when the file was read, 2 (with file:line:col: error: ...) when it \
            is not a config xl would take.
            Example: xentest import /etc/xen/guest.cfg > guest.yaml
            """
    )

    @Argument(help: "An xl or xm config file.", completion: .file()) var file: String

    func run() throws {
        let imported: XLConfigImport
        do { imported = try XLConfigImport.load(path: file) } catch {
            Console.diagnostics(error.diagnostics)
            throw ExitCode(XentestExitStatus.unusable)
        }
        Console.out("# the guest xentest understands from \(file); paste under a case's 'guest:'\n")
        Console.out(imported.guestYAML)
        guard !imported.notCarriedOver.isEmpty else { return }
        Console.flushOut()
        Console.error(["not carried over:"] + imported.notCarriedOver.map(\.description))
    }
}
