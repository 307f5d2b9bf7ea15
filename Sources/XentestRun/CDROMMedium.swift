import XentestPlan
import XentestSupport

/// The medium in a guest's emulated CD-ROM drive (`cdrom:`, `cd-insert`, `cd-eject`): the image a run makes for it,
/// and what the test guest reads in the drive, its `sr0`.
package enum CDROMMedium {
    /// The guest's drive as the toolstack names it: the secondary IDE master, where QEMU's CD-ROM usually sits.
    package static let device = "hdc"

    /// A medium's image: a raw file the size of the medium, whose bytes the guest reads as 2 KiB sectors.
    package static func image(_ size: MemorySize) -> DiskSpec { DiskSpec(size: size, format: .raw) }

    /// In the guest's shell: opening the drive makes the kernel look at the medium again (nothing in the test guest
    /// polls it), and fails with `No medium found` on an empty drive; then the size it found, in 512-byte sectors.
    package static let probe = "dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>&1; echo size=$(cat /sys/block/sr0/size)"

    /// What the guest found in its drive, from `probe`'s output.
    package enum Reading: Sendable, Hashable, CustomStringConvertible {
        /// The drive could not be opened for want of a medium (the kernel keeps the last medium's size in /sys/block
        /// after an eject, so the open's error is what says so).
        case empty
        /// A medium of this many 512-byte sectors, whose first sector the guest read.
        case medium(sectors: Int)
        /// A medium of this size the guest could not read: dd's error.
        case unreadable(sectors: Int, error: String)

        /// What the guest's drive holds, in a failure message.
        package var description: String {
            switch self {
            case .empty: "no medium"
            case .medium(let sectors): "a medium of \(CDROMMedium.describe(sectors: sectors))"
            case .unreadable(let sectors, let error):
                "a medium of \(CDROMMedium.describe(sectors: sectors)) it cannot read (\(error))"
            }
        }
    }

    /// The medium of `size` the guest should read now, or none (`nil`): asks the guest every second until it reads
    /// that, the medium's first sector included (a change takes the guest a moment to see), for at most `attempts`
    /// times. A guest that does not answer (`guestAnswers` false) is not asked: the toolstack's success is the step's.
    package static func confirm(
        _ size: MemorySize?,
        guestAnswers: Bool,
        console: any GuestConsole,
        calls: [Evidence],
        attempts: Int = 15
    ) async throws -> ActionOutcome {
        guard guestAnswers else { return .success(calls) }
        let wanted = size.map { Reading.medium(sectors: $0.mebibytes * 2048) } ?? .empty
        var last: (reading: Reading, output: String)?
        var evidence: [Evidence] = []
        for attempt in 1...max(1, attempts) {
            if attempt > 1 { try await Task.sleep(for: .seconds(1)) }
            let outcome = try await console.exec(probe)
            evidence += outcome.evidence
            guard outcome.reached else {
                return .failure(outcome.problem ?? "no answer from the guest's console", calls + evidence)
            }
            guard let reading = reading(outcome.output) else {
                return .failure(
                    "the guest has no CD-ROM drive sr0 (no /sys/block/sr0): '\(outcome.output.suffix(200))'",
                    calls + evidence
                )
            }
            if reading == wanted {
                let seen = size.map { "the guest reads a medium of \($0) in sr0" } ?? "the guest finds sr0 empty"
                return .success(calls + evidence, observation: .text(seen))
            }
            last = (reading, outcome.output)
        }
        let want = size.map { "the \($0) medium put in it" } ?? "an empty drive after the eject"
        return .failure(
            "the guest's sr0 holds \(last.map { "\($0.reading)" } ?? "nothing"), not \(want) (\(attempts) looks a "
                + "second apart)",
            calls + evidence
        )
    }

    /// `32M`, or `100 KiB` for a size that is no whole number of MiB.
    static func describe(sectors: Int) -> String { sectors % 2048 == 0 ? "\(sectors / 2048)M" : "\(sectors / 2) KiB" }

    /// The reading in `probe`'s output; nil when the guest has no such drive (no size).
    static func reading(_ output: String) -> Reading? {
        let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let sectors = lines.last(where: { $0.hasPrefix("size=") }).flatMap({ Int($0.dropFirst("size=".count)) })
        else { return nil }
        if output.contains("No medium found") { return .empty }
        if let error = lines.first(where: { $0.hasPrefix("dd: ") }) {
            return .unreadable(sectors: sectors, error: String(error.dropFirst("dd: ".count)))
        }
        return .medium(sectors: sectors)
    }
}
