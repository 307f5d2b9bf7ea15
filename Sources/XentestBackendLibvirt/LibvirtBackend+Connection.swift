import Dispatch
import Foundation
import Libvirt
import XentestPlan
import XentestRun
import XentestSupport

extension LibvirtBackend {
    /// Why the current connection is dead (its daemon went away), or nil while it lives.
    func connectionLoss() -> String? {
        let connection = self.connection
        guard !connection.isAlive else { return nil }
        let why = connection.closeReason.map { ": \($0)" } ?? ""
        return "lost the connection to libvirt at \(connection.requestedURI)\(why)"
    }

    /// Opens the connection again if it died, trying until the daemon answers, `reconnectPatience` passes or the
    /// current task's deadline comes; returns the evidence of the attempts (none while the connection lives).
    func reconnectIfLost() async throws -> [Evidence] {
        guard connectionLoss() != nil else { return [] }
        let deadline = TaskDeadline.current
        return try await Self.offPool { [self] in
            let calls = CallLog()
            try liveConnection(calls, deadline: deadline)
            return calls.evidence
        }
    }

    /// The connection, opened again when the daemon behind it went away (e.g. libvirtd restarted): libvirt's
    /// domains, networks and devices outlive their daemon, so a new connection reaches what the old one made.
    /// Blocks between attempts; a `BackendFailure` with every attempt when the daemon does not answer in time.
    @discardableResult func liveConnection(_ calls: CallLog, deadline: Date?) throws -> LibvirtConnection {
        reconnecting.lock()
        defer { reconnecting.unlock() }
        let lost = connection
        guard !lost.isAlive else { return lost }
        let loss = connectionLoss() ?? "lost the connection to libvirt at \(lost.requestedURI)"
        var giveUp = Date().addingTimeInterval(Double(reconnectPatience.milliseconds) / 1000)
        if let deadline, deadline < giveUp { giveUp = deadline }
        var delay = 0.2
        while true {
            do {
                let fresh = try calls.call("virConnectOpen", [lost.requestedURI]) {
                    try LibvirtConnection(uri: lost.requestedURI)
                }
                current.withLock { $0 = fresh }
                lost.close()
                return fresh
            } catch let error as LibvirtError {
                guard Date().addingTimeInterval(delay) < giveUp else {
                    throw BackendFailure(
                        "\(loss), and it could not be opened again: \(error.message)",
                        evidence: calls.evidence
                    )
                }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 1)
            }
        }
    }

    /// Runs blocking libvirt calls on a Dispatch thread, keeping Swift's small cooperative pool free.
    ///
    /// The step's `StepActivity` goes along, so a call that never returns is still named in the step's evidence.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let activity = StepActivity.current
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global()
                .async {
                    StepActivity.$current.withValue(activity) { continuation.resume(with: Result { try body() }) }
                }
        }
    }

    /// Runs blocking libvirt calls off the pool: their value, or the libvirt error that stopped them.
    func attempt<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> Result<T, LibvirtError> {
        do { return .success(try await Self.offPool(body)) } catch let error as LibvirtError { return .failure(error) }
    }

    /// Runs a step's blocking libvirt calls off the pool: a libvirt error is the step's failure, with libvirt's
    /// message and the calls made up to it.
    func outcome(_ calls: CallLog, _ body: @escaping @Sendable () throws -> ActionOutcome) async throws -> ActionOutcome
    {
        switch try await attempt(body) {
        case .success(let outcome): return outcome
        case .failure(let error): return .failure(error.message, calls.evidence)
        }
    }

    /// The domain named `name`; a libvirt error (code 42, as libvirt says it) when there is none.
    func lookup(_ name: String, _ calls: CallLog) throws -> LibvirtDomain {
        guard let domain = try calls.call("virDomainLookupByName", [name], { try connection.domain(named: name) })
        else {
            throw LibvirtError(
                code: 42,
                domain: 0,
                message: "Domain not found: no domain with matching name '\(name)'",
                call: "virDomainLookupByName"
            )
        }
        return domain
    }
}
