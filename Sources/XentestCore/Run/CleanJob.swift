import Foundation

/// `xentest clean`: removes objects named `xentest-*` that earlier runs left, and nothing else.
public enum CleanJob {
    /// The backend `clean` works through.
    public static func backend(connect: String?, hostShell: (any CommandRunner)? = nil) throws(BackendUnavailable)
        -> any Backend
    {
        try RunJob.makeBackend(RunOptions(plan: "clean", connect: connect, hostShell: hostShell))
    }

    /// Lists (and unless `dryRun`, removes) leftovers; prints them on stdout; returns the exit status.
    public static func execute(backend: any Backend, dryRun: Bool) async -> Int32 {
        let names: [String]
        do {
            names = try await backend.leftovers()
        } catch {
            RunJob.printError(["error: cannot list leftovers: \(error)"])
            return 2
        }
        if names.isEmpty {
            RunJob.printError(["nothing to clean: no xentest-* domains or networks"])
            return 0
        }
        var failed = false
        for name in names {
            if dryRun {
                print("would remove \(name)")
                continue
            }
            do {
                _ = try await backend.removeLeftover(name)
                print("removed \(name)")
            } catch {
                RunJob.printError(["error: cannot remove \(name): \(error)"])
                failed = true
            }
        }
        return failed ? 1 : 0
    }
}
