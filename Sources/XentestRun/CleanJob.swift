import Foundation
import XentestPlan
import XentestSupport

/// `xentest clean`: removes objects named `xentest-*` that earlier runs left, and nothing else.
public enum CleanJob {
    /// What `clean` found and did.
    public struct Report: Sendable {
        /// The leftovers found (all of them, in a dry run, to be removed).
        public var found: [String] = []
        /// Those removed.
        public var removed: [String] = []
        /// Those that could not be removed, with why.
        public var failures: [(name: String, error: String)] = []
        /// Why the leftovers could not even be listed.
        public var listingError: String?

        /// 2 when nothing could be listed, 1 when something could not be removed, else 0.
        public var status: XentestExitStatus {
            if listingError != nil { return .unusable }
            return failures.isEmpty ? .success : .failed
        }
    }

    /// Lists (and unless `dryRun`, removes) leftovers through `backend`.
    public static func execute(backend: any Backend, dryRun: Bool) async -> Report {
        var report = Report()
        do { report.found = try await backend.leftovers() } catch {
            report.listingError = "\(error)"
            return report
        }
        guard !dryRun else { return report }
        for name in report.found {
            do {
                _ = try await backend.removeLeftover(name)
                report.removed.append(name)
            } catch { report.failures.append((name, "\(error)")) }
        }
        return report
    }
}
