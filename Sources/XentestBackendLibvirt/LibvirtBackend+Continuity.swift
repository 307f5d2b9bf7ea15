import Foundation
import Synchronization
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

/// `save`, `restore`, `reboot` and memory through libvirt, each lifecycle step checked by `GuestContinuity`
/// against what the guest itself says.
extension LibvirtBackend {
    /// Where the run's files for a guest go (its saved state, its disk images): a folder on the hypervisor's host
    /// (made through its shell), or, on the test driver, which works from inside this process, this machine's
    /// temporary folder.
    var hostFilesDirectory: String {
        driver == .test
            ? FileManager.default.temporaryDirectory.appendingPathComponent("xentest").path : "/var/lib/xentest"
    }

    /// Where `save` writes a guest's state.
    func savePath(_ domainName: String) -> String { hostFilesDirectory + "/" + domainName + ".save" }

    /// `virDomainSave` to a file on the ledger before it exists; the domain stops and stays defined.
    func save(_ session: CaseSession) async throws -> ActionOutcome {
        let name = session.domainName
        let path = savePath(name)
        return try await GuestContinuity.save(session, console: console(session)) {
            let calls = CallLog()
            let folder = (path as NSString).deletingLastPathComponent
            if driver == .test {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } else if let hostShell {
                let made = try await hostShell.run(["mkdir", "-p", folder], timeout: .seconds(30))
                calls.append([made.evidence])
                guard made.succeeded else { return .failure("cannot make \(folder): \(made.stderr)", calls.evidence) }
            }
            session.record(.file(path: path))
            return try await outcome(calls) { [self] in
                let domain = try lookup(name, calls)
                try calls.call("virDomainSave", [name, path]) { try domain.save(to: path) }
                return .success(calls.evidence)
            }
        }
    }

    /// `virDomainRestore` from the file `save` wrote: the domain runs again under its name.
    func restore(_ session: CaseSession) async throws -> ActionOutcome {
        let path = savePath(session.domainName)
        return try await GuestContinuity.restore(session, console: console(session)) {
            let calls = CallLog()
            return try await outcome(calls) { [self] in
                try calls.call("virDomainRestore", [path]) { try connection.restoreDomain(from: path) }
                return .success(calls.evidence)
            }
        }
    }

    /// `virDomainReboot`: the guest restarts under the same name (`<on_reboot>restart</on_reboot>`).
    func reboot(_ session: CaseSession) async throws -> ActionOutcome {
        let name = session.domainName
        return try await GuestContinuity.reboot(session, console: console(session)) {
            let calls = CallLog()
            return try await outcome(calls) { [self] in
                let domain = try lookup(name, calls)
                try calls.call("virDomainReboot", [name]) { try domain.reboot() }
                return .success(calls.evidence)
            }
        }
    }

    /// `mem-set` (`virDomainSetMemoryFlags`, live) or `mem-max` (`virDomainSetMaxMemory`).
    func setMemory(_ action: Action, _ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        let name = session.domainName
        return try await outcome(calls) { [self] in
            let domain = try lookup(name, calls)
            switch action {
            case .memSet(let size):
                let kiB = UInt64(size.mebibytes) * 1024
                try calls.call("virDomainSetMemoryFlags", [name, "\(kiB) KiB", "LIVE"]) {
                    try domain.setMemory(kiB: kiB, live: true)
                }
            case .memMax(let size):
                let kiB = UInt64(size.mebibytes) * 1024
                try calls.call("virDomainSetMaxMemory", [name, "\(kiB) KiB"]) { try domain.setMaxMemory(kiB: kiB) }
            default: preconditionFailure("\(action.name) is not a memory action")
            }
            return .success(calls.evidence)
        }
    }

    /// The guest's state and its memory now (`virDomainGetInfo`), gone when libvirt does not know it.
    func listing(_ session: CaseSession, _ calls: CallLog) async throws -> ActionOutcome {
        try await listingWithID(session, calls).outcome
    }

    /// `listing`, with the running domain's id (`virDomainGetID`: the Xen domid), which changes when the
    /// hypervisor restarts the guest under the same name; nil when it is not running.
    func listingWithID(_ session: CaseSession, _ calls: CallLog) async throws -> (outcome: ActionOutcome, id: Int?) {
        let name = session.domainName
        let id = Mutex<Int?>(nil)
        let listed = try await outcome(calls) { [self] in
            guard let domain = try calls.call("virDomainLookupByName", [name], { try connection.domain(named: name) })
            else { return .success(calls.evidence, observation: .listing(.gone, memoryMiB: nil)) }
            let info = try calls.call("virDomainGetInfo", [name]) { try domain.info() }
            let state = Self.guestState(info.state)
            let memory = state == .shutoff ? nil : Int(info.memoryKiB / 1024)
            if state != .shutoff {
                let current = try domain.id
                id.withLock { $0 = current }
            }
            return .success(calls.evidence, observation: .listing(state, memoryMiB: memory))
        }
        return (listed, id.withLock { $0 })
    }
}
