import XentestPlan
import XentestSupport
/// Something a case created and must undo.
public enum LedgerEntry: Sendable, Hashable, CustomStringConvertible {
    /// A guest domain (destroyed, and undefined where the toolstack keeps definitions).
    case domain(name: String)
    /// A PCI device made assignable; given back to its host driver at teardown.
    case assignablePCIDevice(PCIAddress)
    /// A file the run wrote (an xl.cfg).
    case file(path: String)

    /// `domain NAME`, `assignable PCI device ADDRESS` or `file PATH`: for teardown's labels and messages.
    public var description: String {
        switch self {
        case .domain(let name): "domain \(name)"
        case .assignablePCIDevice(let address): "assignable PCI device \(address)"
        case .file(let path): "file \(path)"
        }
    }
}

/// The things a case has created, recorded *before* each is created, undone in reverse order at teardown.
///
/// Steps of the plan that undo something themselves (destroy, pci-assignable-remove) take it off the ledger, so
/// teardown only undoes what is still there.
public struct CleanupLedger: Sendable {
    /// What is recorded and not yet removed, in the order recorded.
    public private(set) var entries: [LedgerEntry] = []

    /// An empty ledger.
    public init() {}

    /// Records `entry` before it is created; recording twice keeps one entry.
    public mutating func record(_ entry: LedgerEntry) { if !entries.contains(entry) { entries.append(entry) } }

    /// Takes `entry` off the ledger once it is gone.
    public mutating func remove(_ entry: LedgerEntry) { entries.removeAll { $0 == entry } }

    /// What teardown undoes, last created first.
    public var teardownOrder: [LedgerEntry] { entries.reversed() }
}
