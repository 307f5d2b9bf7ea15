import Foundation
import XentestPlan
import XentestRun
import XentestSupport
import XentestXLParsing

extension XLBackend {
    /// Writes the guest's xl.cfg in dom0 and `xl create`s it; both are in the ledger before they exist.
    func create(_ action: Action, _ step: inout XLStep) async throws -> ActionOutcome {
        let session = step.session
        guard let guest = session.guest else { return .failure("the case has no guest", []) }
        if let role = guest.spec.fromHost { return try await createCopy(of: role, action, &step) }
        let path = configPath(session.domainName)
        session.record(.file(path: path))
        try await makeConfigDirectory(&step)
        for (index, disk) in guest.spec.disks.enumerated() {
            let made = try await step.make(disk, at: guest.diskImagePath(index, disk.format, in: configDirectory))
            guard made.succeeded else { return step.failure(made) }
        }
        if let size = guest.spec.cdrom {
            let made = try await step.make(CDROMMedium.image(size), at: guest.cdMediumPath(0, in: configDirectory))
            guard made.succeeded else { return step.failure(made) }
        }
        let written = try await step.run(
            ["dd", "of=\(path)", "status=none"],
            input: XLConfigRenderer.render(guest, imageDirectory: configDirectory)
        )
        guard written.succeeded else { return step.failure(written) }
        session.record(.domain(name: session.domainName))
        let created = try await step.xl(action)
        return created.succeeded ? .success(step.calls) : step.failure(created)
    }

    /// Makes the folder of guests' configs and images, once a run.
    func makeConfigDirectory(_ step: inout XLStep) async throws {
        guard !configDirectoryMade.withLock({ $0 }) else { return }
        let made = try await step.run(["mkdir", "-p", configDirectory])
        if made.succeeded { configDirectoryMade.withLock { $0 = true } }
    }

    /// `xl destroy`, or `xl shutdown -w` and then until xl no longer lists the guest: `xl shutdown -w` returns while
    /// the domain is still listed, shut down, for a few seconds (seen on Xen 4.17). The step's deadline bounds it.
    func stop(_ action: Action, _ step: inout XLStep) async throws -> ActionOutcome {
        let name = step.session.domainName
        let result = try await step.xl(action)
        guard result.succeeded else { return step.failure(result) }
        if case .shutdown = action {
            while true {
                let listed = try await step.run(["xl", "list", name], timeout: .seconds(30))
                if !listed.succeeded { break }
                try await awaitDomainRelease(atMost: 1)
            }
        }
        step.session.forget(.domain(name: name))
        return .success(step.calls)
    }

    /// The guest's state from `xl list NAME` (gone when xl does not know it).
    func list(_ step: inout XLStep) async throws -> ActionOutcome {
        switch try await step.listing() {
        case .success(let seen):
            return .success(step.calls, observation: .listing(seen.state, memoryMiB: seen.memoryMiB))
        case .failure(let failed): return step.failure(failed.result)
        }
    }

    /// Reads `xl list` until the guest is `wanted`; the runner's deadline ends the wait. Between readings it waits on
    /// xenstored's event for a guest that shuts down or goes (`awaitDomainRelease`); xl has no event for running or
    /// paused, so for those it polls, gently.
    func waitForState(_ wanted: GuestState, _ step: inout XLStep) async throws -> ActionOutcome {
        var delay = 0.2
        while true {
            switch try await step.state() {
            case .failure(let failed): return step.failure(failed.result)
            case .success(let seen) where seen == wanted:
                return .success(Array(step.calls.suffix(1)), observation: .state(seen))
            case .success: break
            }
            if wanted == .shutoff || wanted == .gone {
                try await awaitDomainRelease(atMost: 2)
            } else {
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 2)
            }
        }
    }

    /// libxl's log of the guest, its device model's (HVM) and its console's, as xl and xenconsoled keep them.
    public func logs(for session: CaseSession) async -> [Evidence] {
        guard session.guest != nil else { return [] }
        let name = session.domainName
        return await logTails(
            [
                "/var/log/xen/xl-\(name).log", "/var/log/xen/qemu-dm-\(name).log",
                "/var/log/xen/console/guest-\(name).log",
            ],
            through: runner
        )
    }

    /// Destroys the domain (one xl no longer knows counts as gone), gives a PCI device back to its driver with
    /// `xl pci-assignable-remove -r`, or removes the file with `rm -f`; throws `TeardownFailed` when xl refuses or
    /// `rm` fails.
    public func undo(_ entry: LedgerEntry, in session: CaseSession) async throws -> [Evidence] {
        var calls: [Evidence] = []
        switch entry {
        case .domain(let name):
            let result = try await runner.run(["xl", "destroy", name], timeout: .seconds(60))
            calls.append(result.evidence)
            if !result.succeeded && !result.stderr.contains("invalid domain identifier") {
                throw TeardownFailed(evidence: result)
            }
            if !result.succeeded {
                // Gone by itself: a guest that rebooted or crashed with on_reboot/on_crash "restart" is gone for a
                // moment while xl starts it again under the same name (seen in the lab: the new domain appeared
                // after teardown). Destroy it if it comes back within a few seconds.
                for _ in 0..<8 {
                    try await Task.sleep(for: .milliseconds(500))
                    let again = try await runner.run(["xl", "destroy", name], timeout: .seconds(60))
                    if again.succeeded {
                        calls.append(again.evidence)
                        break
                    }
                }
            }
        case .assignablePCIDevice(let address):
            let result = try await runner.run(
                ["xl", "pci-assignable-remove", "-r", address.description],
                timeout: .seconds(60)
            )
            calls.append(result.evidence)
            if !result.succeeded { throw TeardownFailed(evidence: result) }
        case .file(let path):
            let result = try await runner.run(["rm", "-f", path], timeout: .seconds(30))
            calls.append(result.evidence)
            if !result.succeeded { throw TeardownFailed(evidence: result) }
        }
        return calls
    }

    /// The `xentest-*` domains `xl list` shows, then the `xentest-*` files in the folder of guests' configs, each
    /// sorted (domains first, so that clean stops a guest before it removes its images); throws `TeardownFailed` when
    /// `xl list` fails.
    public func leftovers() async throws -> [String] {
        let result = try await runner.run(["xl", "list"], timeout: .seconds(30))
        guard result.succeeded else { throw TeardownFailed(evidence: result) }
        let domains = try XLParse.list(result.stdout).map(\.name).filter { $0.hasPrefix("xentest-") }.sorted()
        return domains + (try await LeftoverFiles.list(in: configDirectory, through: runner))
    }

    /// Destroys the domain `name` with `xl destroy`, or removes the file at the path `name`; throws when that fails.
    public func removeLeftover(_ name: String) async throws -> [Evidence] {
        if name.hasPrefix("/") { return try await LeftoverFiles.remove(name, in: configDirectory, through: runner) }
        precondition(name.hasPrefix("xentest-"), "only xentest's own objects are ever removed")
        let result = try await runner.run(["xl", "destroy", name], timeout: .seconds(60))
        if !result.succeeded { throw TeardownFailed(evidence: result) }
        return [result.evidence]
    }
}
