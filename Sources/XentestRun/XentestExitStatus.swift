import XentestPlan
import XentestSupport
/// The exit statuses of xentest, as README and the man page list them.
public enum XentestExitStatus: Int32, Sendable, Hashable, Codable {
    /// Nothing failed.
    case success = 0
    /// A case failed, errored, timed out or passed unexpectedly (with a baseline: and had not failed there too);
    /// for `clean`, something could not be removed; for `compare --fail-on-difference`, the verdicts differ.
    case failed = 1
    /// A plan, host file, usage or backend problem: nothing was started.
    case unusable = 2
    /// `lab status`: the lab is not running.
    case notRunning = 3
    /// Interrupted (Ctrl-C or SIGTERM): teardown done, a partial report written.
    case interrupted = 130
}
