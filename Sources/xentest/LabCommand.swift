import ArgumentParser
import Foundation
import XentestLab
import XentestPlan
import XentestRun
import XentestSupport

struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Xen 4.17 and dom0 in QEMU on this machine: a Xen host for the xl backend.",
        discussion: """
            The lab boots Xen 4.17 with a Debian dom0 under QEMU's software emulation (no KVM, no Xen on this \
            machine needed), reachable over SSH on 127.0.0.1 only. Its images are built once from Debian packages \
            (downloaded and unpacked, never installed) and cached in the lab folder.

            Examples:
              xentest lab up                 build (once) and boot; prints the boot time
              xentest lab run smoke          run a plan with the xl backend (boots the lab if needed)
              xentest lab status             whether it runs, SSH port, uptime, how to log in
              xentest lab down               stop its QEMU
            """,
        subcommands: [LabUpCommand.self, LabStatusCommand.self, LabDownCommand.self, LabRunCommand.self]
    )
}

/// The options every lab subcommand takes.
struct LabFolderOptions: ParsableArguments {
    @Option(name: .customLong("lab-dir"), help: "The lab's folder (default: $XDG_CACHE_HOME/xentest/lab).")
    var labDirectory: String?

    @Option(name: .customLong("package-cache"), help: "Where downloaded Debian packages are kept.") var packageCache:
        String?

    func lab() -> Lab {
        Lab(
            paths: LabPaths(root: labDirectory ?? LabPaths.defaultRoot),
            packages: DebianPackageCache(root: packageCache ?? DebianPackageCache.defaultRoot),
            progress: { Console.error($0) }
        )
    }
}

/// How long `up` waits for dom0.
struct LabBootOptions: ParsableArguments {
    @Option(name: .customLong("boot-timeout"), help: "How long to wait for dom0 to answer over SSH (300s, 10m).")
    var bootTimeout = "300s"

    func validate() throws {
        guard PlanDuration(parsing: bootTimeout) != nil else {
            throw ValidationError("--boot-timeout '\(bootTimeout)' is not a duration such as 300s or 10m")
        }
    }

    var duration: PlanDuration { PlanDuration(parsing: bootTimeout) ?? .seconds(300) }
}

struct LabUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Build the lab's images if needed and boot it; waits until dom0 answers `xl info` over SSH."
    )

    @OptionGroup var folder: LabFolderOptions
    @OptionGroup var boot: LabBootOptions

    @Flag(help: "Build the images again (after apt-get update brought new packages, say).") var rebuild = false

    func run() async throws {
        let lab = folder.lab()
        let report: Lab.UpReport
        do { report = try await lab.up(rebuild: rebuild, bootTimeout: boot.duration) } catch {
            Console.error("error: \(error)")
            throw ExitCode(XentestExitStatus.unusable)
        }
        if report.started {
            let version = report.xenVersion.map { "Xen \($0), " } ?? ""
            print(String(format: "lab up: %@booted in %.1f s", version, report.state.bootSeconds ?? 0))
        } else {
            print("lab already running")
        }
        print(lab.describe(.running(report.state)), terminator: "")
    }
}

struct LabStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Whether the lab runs, its SSH port and uptime. Exit status 0 running, 3 not running."
    )

    @OptionGroup var folder: LabFolderOptions

    func run() async throws {
        let lab = folder.lab()
        let status = lab.status()
        print(lab.describe(status), terminator: "")
        if case .stopped = status { throw ExitCode(XentestExitStatus.notRunning) }
    }
}

struct LabDownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the lab's QEMU (only the one this lab folder started) and remove its runtime state."
    )

    @OptionGroup var folder: LabFolderOptions

    func run() async throws {
        let report: Lab.DownReport
        do { report = try await folder.lab().down() } catch {
            Console.error("error: \(error)")
            throw ExitCode(XentestExitStatus.unusable)
        }
        switch report {
        case .stopped(let pid, let killed):
            print("stopped QEMU (pid \(pid))" + (killed ? " with SIGKILL: it did not end on SIGTERM" : ""))
        case .notRunning(let note): print("not running" + (note.map { ": \($0)" } ?? ""))
        }
    }
}

struct LabRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a plan in the lab through xl over SSH, or libvirt (booting the lab first if needed).",
        discussion: """
            Uses the lab's host file (LAB_DIR/host.yaml). Results are written on this machine, as with \
            `xentest run`, and the exit status is the same: 0 nothing failed, 1 a case failed, 2 a plan, usage, \
            backend or lab problem, 130 interrupted.
            """
    )

    @OptionGroup var folder: LabFolderOptions
    @OptionGroup var boot: LabBootOptions

    @Argument(help: "A plan name (rc6) or path.", completion: Completions.plan) var plan: String

    @Option(help: "xl (over SSH, the default), or libvirt (dom0's libvirtd and its libxl driver, over xen+ssh://).")
    var backend: BackendKind = .xl

    @OptionGroup var reporting: RunReportingOptions

    func run() async throws {
        let target: Lab.RunTarget
        do { target = try await folder.lab().runTarget(backend: backend, bootTimeout: boot.duration) } catch {
            Console.error("error: \(error)")
            throw ExitCode(XentestExitStatus.unusable)
        }
        if let seconds = target.bootSeconds { Console.error(String(format: "lab up: booted in %.1f s", seconds)) }
        var options = try reporting.runOptions(plan: plan)
        options.hostConfigPath = target.hostConfigPath
        try await PlanRun(
            options: options,
            selection: target.selection,
            reports: try reporting.reports(),
            logger: reporting.logger,
            uploader: try reporting.uploader()
        )
        .execute()
    }
}
