import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// A problem building or running the lab (or the test guest): what went wrong, where, and what to do next.
public struct LabError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong and what to do next, for a person.
    public var message: String

    /// A lab error saying `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }

    /// QEMU is not installed.
    static func qemuMissing(_ program: String) -> LabError {
        LabError(
            "\(program) is not installed: the lab boots Xen in QEMU (software emulation, no KVM needed). "
                + "Install it: apt-get install -y --no-install-recommends qemu-system-x86"
        )
    }

    /// apt could not download (or even name) some packages.
    static func packagesNotDownloadable(_ names: [String], detail: String) -> LabError {
        LabError(
            "cannot download the Debian packages \(names.joined(separator: " ")): \(detail). "
                + "The lab and the test guest are built from Debian 12 (bookworm) packages: check that "
                + "/etc/apt/sources.list(.d) has bookworm main and bookworm-security, then run apt-get update"
        )
    }

    /// A host tool the build needs is missing.
    static func toolMissing(_ tool: String, package: String, for purpose: String) -> LabError {
        LabError("\(tool) is not installed (needed to \(purpose)). Install it: apt-get install -y \(package)")
    }

    /// A command failed; its stderr says why.
    static func commandFailed(_ result: CommandResult, doing what: String, next: String) -> LabError {
        let reason = result.timedOut ? "killed at its time limit" : "exit status \(result.status)"
        let detail = result.stderr.trimmed.isEmpty ? "" : ": \(result.stderr.trimmed)"
        return LabError("cannot \(what) (\(result.argv.joined(separator: " ")): \(reason))\(detail). \(next)")
    }
}
