import Foundation
import XentestSupport

/// The files earlier runs left in the folder where a run keeps a guest's files on the hypervisor's host (configs, disk
/// images, CD-ROM media, save files, overlays of the tester's own guests): every one is named `xentest-*`, after its
/// domain, so `xentest clean` finds them by name as it finds domains, and removes nothing else.
package enum LeftoverFiles {
    /// The `xentest-*` files directly in `directory` (`find`, not a shell), sorted; none when the folder does not
    /// exist. Throws `ListingFailed` when `find` fails otherwise.
    package static func list(in directory: String, through shell: any CommandRunner) async throws -> [String] {
        let found = try await shell.run(
            ["find", directory, "-maxdepth", "1", "-type", "f", "-name", "xentest-*"],
            timeout: .seconds(30)
        )
        guard found.succeeded else {
            if found.stderr.contains("No such file or directory") { return [] }
            throw ListingFailed(evidence: found)
        }
        return found.stdout.split(separator: "\n").map(String.init).filter { isLeftover($0, in: directory) }.sorted()
    }

    /// Removes `path` with `rm -f`; only a path `list` returned is ever passed. Throws `ListingFailed` when `rm`
    /// fails.
    package static func remove(_ path: String, in directory: String, through shell: any CommandRunner) async throws
        -> [Evidence]
    {
        precondition(isLeftover(path, in: directory), "only xentest's own files are ever removed")
        let removed = try await shell.run(["rm", "-f", path], timeout: .seconds(30))
        guard removed.succeeded else { throw ListingFailed(evidence: removed) }
        return [removed.evidence]
    }

    /// Whether `path` names a file of xentest's directly in `directory`.
    package static func isLeftover(_ path: String, in directory: String) -> Bool {
        guard path.hasPrefix(directory + "/xentest-") else { return false }
        return !path.dropFirst(directory.count + 1).contains("/")
    }

    /// A command of the listing or removal that failed: its command, exit status and what it said.
    package struct ListingFailed: Error, CustomStringConvertible {
        package var evidence: CommandResult
        package var description: String {
            let said = (evidence.stderr.isEmpty ? evidence.stdout : evidence.stderr)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(evidence.argv.joined(separator: " ")) failed (exit \(evidence.status)): \(said)"
        }
    }
}
