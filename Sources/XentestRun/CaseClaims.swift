import XentestPlan

/// What a case holds on the host while it runs: what `run --jobs` schedules by, so that cases that run at once
/// cannot disturb each other.
public struct CaseClaims: Sendable, Hashable {
    /// PCI devices by role: each held by one case at a time.
    public var pciRoles: Set<String>
    /// The memory its guests may use at once (MiB): each guest's, twice for a guest that migrates (the copy is made
    /// before the original goes).
    public var memoryMiB: Int
    /// The vCPUs its guests start with (a soft budget: Xen shares CPUs between more vCPUs, only more slowly).
    public var vcpus: Int
    /// Its guests use the host file's addresses on the tester's bridge (`guest-address` and the ones after it):
    /// two such cases at once would give two guests one address.
    public var usesGuestAddresses: Bool
    /// Why the case needs the host to itself, if it does.
    public var exclusiveReason: String?

    /// What `testCase` holds; `makesOwnNetwork` (QEMU: an isolated network a case) frees its guests' addresses.
    public init(_ testCase: TestCase, makesOwnNetwork: Bool) {
        var roles: Set<String> = []
        for requirement in testCase.requirements {
            switch requirement {
            case .pciDevice(let role), .largeBarDevice(let role): roles.insert(role)
            default: break
            }
        }
        pciRoles = roles
        let first = testCase.guest?.name
        let migrating = Set(
            testCase.steps.compactMap { step -> String? in
                if case .migrate = step.action { step.guest ?? first } else { nil }
            }
        )
        memoryMiB = testCase.guests.reduce(0) { $0 + $1.memory.mebibytes * (migrating.contains($1.name) ? 2 : 1) }
        vcpus = testCase.guests.reduce(0) { $0 + $1.vcpus }
        let networked =
            testCase.guests.contains { $0.nics > 0 }
            || testCase.steps.contains {
                switch $0.action {
                case .ping, .pingGuest, .networkAttach: true
                default: false
                }
            }
        usesGuestAddresses = networked && !makesOwnNetwork
        exclusiveReason = testCase.exclusive ? "the plan marks it exclusive" : nil
    }

    /// A claim of its own (tests, benchmarks).
    public init(
        pciRoles: Set<String> = [],
        memoryMiB: Int = 0,
        vcpus: Int = 0,
        usesGuestAddresses: Bool = false,
        exclusiveReason: String? = nil
    ) {
        self.pciRoles = pciRoles
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.usesGuestAddresses = usesGuestAddresses
        self.exclusiveReason = exclusiveReason
    }

    /// What the case holds, in a few words: `alone (the plan marks it exclusive)`, `pci nic, addresses, 512 MiB`.
    public var summary: String {
        if let exclusiveReason { return "alone (\(exclusiveReason))" }
        var parts = pciRoles.sorted().map { "pci \($0)" }
        if usesGuestAddresses { parts.append("guest addresses") }
        parts.append("\(memoryMiB) MiB, \(vcpus) vCPU" + (vcpus == 1 ? "" : "s"))
        return parts.joined(separator: ", ")
    }
}

/// Which cases may run at once: at most `jobs`, none beside an exclusive one, a PCI role or the guest addresses
/// held by one case at a time, and the cases' memory and vCPUs within the host's (a case that alone exceeds them
/// still runs alone: the planner has judged whether it fits the host at all).
public struct CaseAdmission: Sendable {
    /// How many cases may run at once.
    public var jobs: Int
    /// The host's free memory for guests (MiB); nil when unknown (no memory budget).
    public var memoryMiB: Int?
    /// The host's CPUs; 0 when unknown (no vCPU budget).
    public var cpus: Int

    /// An admission for `jobs` cases at once on the host `facts` describe: its free memory and CPUs are budgeted
    /// where guests run code (a simulated host's guests use neither).
    public init(jobs: Int, facts: HostFacts) {
        self.init(
            jobs: jobs,
            memoryMiB: facts.runsGuestCode ? facts.freeMemoryMiB : nil,
            cpus: facts.runsGuestCode ? facts.cpus : 0
        )
    }

    /// An admission for `jobs` cases at once on a host with `memoryMiB` free and `cpus` CPUs.
    public init(jobs: Int, memoryMiB: Int?, cpus: Int) {
        self.jobs = max(1, jobs)
        self.memoryMiB = memoryMiB
        self.cpus = cpus
    }

    /// Whether a case holding `claims` may start while cases holding `running` run; nil when it may, else why not.
    public func refusal(_ claims: CaseClaims, besides running: [CaseClaims]) -> String? {
        guard !running.isEmpty else { return nil }
        if running.count >= jobs { return "\(jobs) cases run" }
        if let reason = claims.exclusiveReason { return "it runs alone: \(reason)" }
        if let other = running.first(where: { $0.exclusiveReason != nil }) {
            return "a case that runs alone runs (\(other.exclusiveReason ?? ""))"
        }
        if let role = claims.pciRoles.first(where: { role in running.contains { $0.pciRoles.contains(role) } }) {
            return "PCI device '\(role)' is held"
        }
        if claims.usesGuestAddresses && running.contains(where: \.usesGuestAddresses) {
            return "the guest addresses are held"
        }
        if let memoryMiB, claims.memoryMiB + running.reduce(0, { $0 + $1.memoryMiB }) > memoryMiB {
            return "not enough free memory beside the running cases"
        }
        if cpus > 0, claims.vcpus + running.reduce(0, { $0 + $1.vcpus }) > cpus {
            return "not enough CPUs beside the running cases"
        }
        return nil
    }
}
