import Foundation
import XentestBackendLibvirt
import XentestPlan
import XentestRun
import XentestSupport

/// The private host the benchmark runs on: the content of Tests/XentestLibraryTests/Fixtures/hosts/testhost.xml.
///
/// Opening `test:///ABS/PATH.xml` gives every connection fresh state, so each run starts from the same host.
/// The predefined running domain `resident` is what the virsh measurement in libvirt-ops.sh acts on, since it
/// exists in every fresh virsh process.
enum TestHost {
    /// The one simulated host of the project (also used by the tests), read from the source tree.
    static var xml: String {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/XentestLibraryTests/Fixtures/hosts/testhost.xml")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            fatalError("xentest-bench: cannot read \(file.path): run it from a checkout of the project")
        }
        return text
    }

    /// Writes the host XML into a new temporary file and returns its absolute path.
    static func writeTemporaryFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/xentest-bench-host-\(getpid()).xml"
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Seconds since `start`.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// The median of `values` (0 for none).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// This process's peak resident set size so far, in KiB (getrusage's ru_maxrss on Linux).
func peakRSSKiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}
