import XentestPlan
import XentestRun
import XentestSupport

extension XLBackend {
    /// The xenstore trees whose changes may change what `xl block-list`, `network-list`, `pci-list` and
    /// `xenstore-read` answer: every domain's own (a frontend's `device/...`, dom0's `backend/...`) and libxl's
    /// records of devices. Not per guest: the domain id would cost a command of its own, and another guest's change
    /// only brings the next reading forward.
    static let deviceTrees = ["/local/domain", "/libxl"]

    /// Waits for a change that may give `action` another answer: a xenstore watch on `deviceTrees` for the device
    /// listings and `xenstore-read`, at most `seconds`. Not for `vcpu-list`, `list` or `ping`: a guest brings a vCPU
    /// online, gives memory back or answers without writing to xenstore, so the runner polls those.
    public func awaitChange(relevantTo action: Action, in session: CaseSession, atMost seconds: Int) async throws
        -> Bool
    {
        switch action {
        case .blockList, .networkList, .pciList, .xenstoreRead:
            return try await awaitXenstoreChange(Self.deviceTrees, atMost: seconds)
        default: return false
        }
    }

    /// Waits until xenstored says a domain shut down or went away (its `@releaseDomain` watch), at most `seconds`;
    /// sleeps that long instead where dom0 has no working `xenstore-watch`. Any domain's event ends it: the caller
    /// reads the state again.
    func awaitDomainRelease(atMost seconds: Int) async throws {
        if try await awaitXenstoreChange(["@releaseDomain"], atMost: seconds) { return }
        try await Task.sleep(for: .seconds(seconds))
    }

    /// Waits for xenstored's first event on any of `paths` (`xenstore-watch -n COUNT PATH...`: registering a watch
    /// fires it once, so COUNT is one more than the paths), at most `seconds`, the far side's `timeout` ending it
    /// there. Returns whether it watched (an event came, or none in time); false at once where dom0's
    /// `xenstore-watch` failed before, and when it fails now. Not a step's evidence: each wait is one more command,
    /// and none says anything of the guest.
    func awaitXenstoreChange(_ paths: [String], atMost seconds: Int) async throws -> Bool {
        guard xenstoreWatchWorks.withLock({ $0 }) != false else { return false }
        let watched = try await runner.run(
            ["xenstore-watch", "-n", String(paths.count + 1)] + paths,
            timeout: .seconds(seconds)
        )
        let works = watched.succeeded || watched.timedOut
        xenstoreWatchWorks.withLock { $0 = works }
        return works
    }
}
