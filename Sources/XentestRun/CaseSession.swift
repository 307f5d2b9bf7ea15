import Synchronization
import XentestPlan
import XentestSupport

/// One case's concrete context and the state its steps build up, shared by the runner and the backend.
///
/// Actions run in tasks of their own (so a hung call cannot hold the run), hence the state sits in a `Mutex`.
public final class CaseSession: Sendable {
    /// The case being run.
    public let testCase: TestCase
    /// Its guest made concrete (domain name, MACs, devices); nil for host-only cases.
    public let guest: GuestInstance?
    /// The tester's host file.
    public let host: HostConfig
    /// Where this case's evidence goes (`results/<run>/cases/<id>`).
    public let evidenceDirectory: String
    /// Whether the guest is the test guest on a toolstack that runs it, so its console shell answers: lifecycle
    /// steps then check what the guest itself says (the same boot after a restore, a new one after a reboot).
    public let guestAnswers: Bool
    /// Every guest of the case by its name in the plan, this one included: what a step needs of another guest (its
    /// address, for `ping: NAME`).
    public let caseGuests: [String: GuestInstance]
    /// The domain name of the case's first guest: the case's own objects (its network on QEMU) are named after it.
    public let caseDomainName: String

    private let state = Mutex(State())
    /// What to undo at teardown, shared by the sessions of every guest of the case, so that teardown undoes it all,
    /// last created first.
    private let sharedLedger: SharedLedger

    /// The ledger of a case, shared by its guests' sessions.
    public final class SharedLedger: Sendable {
        fileprivate let ledger = Mutex(CleanupLedger())
        /// An empty ledger.
        public init() {}
    }

    /// What the case has done to this guest so far.
    public struct State: Sendable {
        /// Interfaces attached by network-attach and not yet detached.
        public var attachedNICs = 0
        /// Disks attached by block-attach and not yet detached, in order: the guest's disks after its own.
        public var attachedDisks: [DiskSpec] = []
        /// Media put in the guest's CD-ROM drive by cd-insert so far: the next one is medium number this plus one.
        public var insertedMedia = 0
        /// The guest's boot id when `save` saved it, for `restore` to compare.
        public var savedBootID: String?
    }

    /// A session for `testCase` with `guest` named as this run names it.
    public init(
        testCase: TestCase,
        guest: GuestInstance?,
        host: HostConfig,
        evidenceDirectory: String,
        guestAnswers: Bool = false,
        caseGuests: [String: GuestInstance]? = nil,
        caseDomainName: String? = nil,
        ledger: SharedLedger = SharedLedger()
    ) {
        self.testCase = testCase
        self.guest = guest
        self.host = host
        self.evidenceDirectory = evidenceDirectory
        self.guestAnswers = guestAnswers
        self.caseGuests = caseGuests ?? guest.map { [$0.spec.name: $0] } ?? [:]
        self.caseDomainName = caseDomainName ?? guest?.domainName ?? ""
        sharedLedger = ledger
    }

    /// Reads or changes the state under its lock.
    public func withState<R: Sendable>(_ body: (inout State) -> R) -> R { state.withLock { body(&$0) } }

    /// What the case has recorded and not yet undone, of every guest.
    public var ledger: CleanupLedger { sharedLedger.ledger.withLock { $0 } }

    /// Records `entry` on the ledger before it is created.
    public func record(_ entry: LedgerEntry) { sharedLedger.ledger.withLock { $0.record(entry) } }

    /// Takes `entry` off the ledger once it is gone.
    public func forget(_ entry: LedgerEntry) { sharedLedger.ledger.withLock { $0.remove(entry) } }

    /// How many disks the guest has now: its own (`disks:`) and those attached; the next attached is disk number this.
    public var diskCount: Int { (guest?.spec.disks.count ?? 0) + withState { $0.attachedDisks.count } }

    /// The guest's domain name; backends call this only for actions that act on a guest.
    public var domainName: String { guest?.domainName ?? "" }
}
