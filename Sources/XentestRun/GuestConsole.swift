import XentestPlan
import XentestSupport

/// A guest's console shell, through the transport its toolstack has: xl's console pty read and written in dom0,
/// or libvirt's console stream. Each types `GuestConsoleCommand`'s line and parses the same markers.
package protocol GuestConsole: Sendable {
    /// Runs `command` in the guest's shell: its status and output, or why the shell was not reached, with the
    /// calls made (the lookups of the guest included) as evidence. Throws only when cancelled.
    func exec(_ command: String) async throws -> GuestConsoleOutcome

    /// Reads the guest's console until a line matches `pattern`, typing a carriage return now and then so that a
    /// prompt printed before the watch began shows again: reached, with the matching line as output, or why the
    /// console could not be read. Any guest, not only xentest's test guest. Throws only when cancelled (the step's
    /// time limit), with what was read in the step's activity.
    func watch(for pattern: PlanPattern) async throws -> GuestConsoleOutcome
}

/// The steps that look inside a guest, performed the same way on every toolstack: through its `GuestConsole`
/// and, for the host's side of a ping, a shell on the hypervisor's host.
package enum GuestSteps {
    /// `guest-exec: COMMAND`: the command's status and output.
    package static func exec(_ command: String, on console: any GuestConsole) async throws -> ActionOutcome {
        try await console.exec(command).actionOutcome()
    }

    /// `ping: guest` from the hypervisor's host, `ping: host` from inside the guest, to the host file's addresses.
    package static func ping(
        _ direction: PingDirection,
        of session: CaseSession,
        hostShell: (any CommandRunner)?,
        console: any GuestConsole
    ) async throws -> ActionOutcome {
        let host = session.host
        switch direction {
        case .guest:
            guard let address = session.guest?.address else {
                let role = session.guest?.spec.fromHost
                return .failure(
                    role.map { "the host file gives its guest '\($0)' no address to ping" }
                        ?? "the host file names no guest-address to ping",
                    []
                )
            }
            guard let shell = hostShell else { return .failure("no shell on the hypervisor's host to ping from", []) }
            let result = try await shell.run(["ping", "-c", "3", "-W", "2", address], timeout: .seconds(20))
            return result.succeeded
                ? .success([result.evidence])
                : .failure(
                    "no reply from the guest at \(address): \((result.stdout + result.stderr).suffix(200))",
                    [result.evidence]
                )
        case .host:
            guard let address = host.hostAddress else {
                return .failure("the host file names no host-address to ping", [])
            }
            return try await ping(address, from: console, unanswered: "the guest got no reply from \(address)")
        }
    }

    /// Pings `address` from inside the guest: a failure saying `unanswered` when nothing came back.
    static func ping(_ address: String, from console: any GuestConsole, unanswered: String) async throws
        -> ActionOutcome
    {
        let outcome = try await console.exec("ping -c 3 -W 2 \(address)")
        guard outcome.reached else {
            return .failure(outcome.problem ?? "no answer from the guest's console", outcome.evidence)
        }
        return outcome.status == 0
            ? .success(outcome.evidence) : .failure("\(unanswered): \(outcome.output.suffix(200))", outcome.evidence)
    }
}

extension GuestSteps {
    /// `ping: NAME`: from inside the step's guest, to the address of the case's guest `name` (`HostConfig.forGuest`).
    package static func ping(guest name: String, of session: CaseSession, console: any GuestConsole) async throws
        -> ActionOutcome
    {
        guard let peer = session.caseGuests[name] else { return .failure("the case has no guest '\(name)'", []) }
        guard let address = peer.host.guestAddress else {
            return .failure("the host file names no guest-address, so guest '\(name)' has none to ping", [])
        }
        return try await ping(address, from: console, unanswered: "no reply from guest '\(name)' at \(address)")
    }
}

/// What running one command in the guest's console came to.
package struct GuestConsoleOutcome: Sendable {
    /// Whether the guest's shell answered (the end marker arrived).
    package var reached: Bool
    /// The command's exit status; -1 when the shell was not reached.
    package var status: Int
    /// What the command printed, between the markers.
    package var output: String
    /// Why the shell was not reached.
    package var problem: String?
    /// The calls made, what was typed and what was read.
    package var evidence: [Evidence]

    package init(reached: Bool, status: Int, output: String, problem: String?, evidence: [Evidence]) {
        self.reached = reached
        self.status = status
        self.output = output
        self.problem = problem
        self.evidence = evidence
    }

    /// The step's outcome: the command's status and output, or why the guest could not be asked.
    package func actionOutcome(before calls: [Evidence] = []) -> ActionOutcome {
        reached
            ? .success(calls + evidence, observation: .commandOutput(exitStatus: status, output: output))
            : .failure(problem ?? "no answer from the guest's console", calls + evidence)
    }
}
