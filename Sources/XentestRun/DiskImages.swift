import XentestPlan
import XentestSupport

/// The disk images a run makes for its guests, on the hypervisor's host through its shell: an empty file of the
/// disk's size, on the case's ledger before it exists, so teardown removes it whatever happens.
package enum DiskImages {
    /// The command that makes `disk`'s image at `path`: `truncate -s BYTES` (a sparse raw file), or `qemu-img create
    /// -f qcow2`; sizes in bytes, which both read alike.
    package static func makeCommand(_ disk: DiskSpec, at path: String) -> [String] {
        let bytes = String(disk.size.mebibytes * 1024 * 1024)
        return switch disk.format {
        case .raw: ["truncate", "-s", bytes, path]
        case .qcow2: ["qemu-img", "create", "-q", "-f", "qcow2", path, bytes]
        }
    }

    /// Records the image on `session`'s ledger, then makes it through `shell`: the command's result.
    package static func make(
        _ disk: DiskSpec,
        at path: String,
        in session: CaseSession,
        through shell: any CommandRunner
    ) async throws -> CommandResult {
        session.record(.file(path: path))
        return try await shell.run(makeCommand(disk, at: path), timeout: .seconds(60))
    }

    /// The formats `shell`'s host can make images in: raw always, qcow2 when `qemu-img` runs there.
    package static func formats(through shell: any CommandRunner) async -> [DiskFormat] {
        let qemuImg = try? await shell.run(["qemu-img", "--version"], timeout: .seconds(30))
        return qemuImg?.succeeded == true ? [.raw, .qcow2] : [.raw]
    }

    /// `block-list`'s observation: the `listed` disks and, when the test guest answers (`guestAnswers`), those it
    /// sees (`/sys/block`'s `xvd*`, `vd*`, `sd*`, `hd*`: neither loop, RAM nor CD devices), read in its shell.
    /// A guest that does not answer fails the step, with `calls` and the console's evidence.
    package static func listing(listed: Int, guestAnswers: Bool, console: any GuestConsole, calls: [Evidence])
        async throws -> ActionOutcome
    {
        guard guestAnswers else { return .success(calls, observation: .disks(listed: listed, inGuest: nil)) }
        let outcome = try await console.exec("ls /sys/block")
        guard outcome.reached else {
            return .failure(outcome.problem ?? "no answer from the guest's console", calls + outcome.evidence)
        }
        guard outcome.status == 0 else {
            return .failure(
                "the guest could not list /sys/block: exit \(outcome.status), '\(outcome.output.suffix(200))'",
                calls + outcome.evidence
            )
        }
        return .success(
            calls + outcome.evidence,
            observation: .disks(listed: listed, inGuest: guestDisks(outcome.output))
        )
    }

    /// The disk names in a listing of `/sys/block`, sorted.
    package static func guestDisks(_ listing: String) -> [String] {
        listing.split(whereSeparator: \.isWhitespace).map(String.init)
            .filter { name in
                guard let prefix = ["xvd", "vd", "sd", "hd"].first(where: name.hasPrefix) else { return false }
                let rest = name.dropFirst(prefix.count)
                return !rest.isEmpty && rest.allSatisfy { $0 >= "a" && $0 <= "z" }
            }
            .sorted()
    }
}
