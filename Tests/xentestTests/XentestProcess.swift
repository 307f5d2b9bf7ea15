import Foundation

/// What a run of the `xentest` binary did.
struct ProcessResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// Runs the `xentest` executable built next to this test bundle, as swift-argument-parser's example tests do.
enum XentestProcess {
    /// Where SwiftPM puts the products: the folder of the `.xctest` bundle (or of the test runner on Linux).
    static var productsDirectory: URL? {
        var candidates: [URL] = Bundle.allBundles.filter { $0.bundlePath.hasSuffix(".xctest") }
            .map { $0.bundleURL.deletingLastPathComponent() }
        let main = Bundle.main.bundleURL
        candidates.append(main.lastPathComponent.hasSuffix(".xctest") ? main.deletingLastPathComponent() : main)
        if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
        return candidates.first {
            FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("xentest").path)
        }
    }

    /// The repository root: this file is `Tests/xentestTests/XentestProcess.swift`.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `xentest arguments` (or another of the package's executables) in `directory` with `environment` added to this process's, killing it after
    /// `timeout` seconds. Output goes to files, so a chatty command cannot fill a pipe and block.
    static func run(
        _ arguments: [String],
        program: String = "xentest",
        environment: [String: String] = [:],
        in directory: URL = repositoryRoot,
        timeout: TimeInterval = 120,
        whileRunning: (@Sendable (Process) -> Void)? = nil
    ) async throws -> ProcessResult {
        guard let products = productsDirectory else { throw BinaryNotFound() }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("xentest-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let stdoutURL = scratch.appendingPathComponent("stdout")
        let stderrURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)

        let process = Process()
        process.executableURL =
            program.hasPrefix("/") ? URL(fileURLWithPath: program) : products.appendingPathComponent(program)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var merged = ProcessInfo.processInfo.environment
        merged["XENTEST_PLANS"] = nil  // only what a test sets
        merged["COLUMNS"] = "100"  // help text wraps the same everywhere
        process.environment = merged.merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle

        let watched = WatchedProcess(process)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { watched.terminateIfRunning() }
            if let whileRunning { DispatchQueue.global().async { whileRunning(watched.process) } }
        }
        try stdoutHandle.close()
        try stderrHandle.close()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: stdoutURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: stderrURL), as: UTF8.self)
        )
    }

    struct BinaryNotFound: Error, CustomStringConvertible {
        var description: String {
            "no xentest executable next to the test bundle; build it first (swift build --build-tests)"
        }
    }
}

/// A `Process` handed to the timeout's queue. `@unchecked Sendable` because the only thing done from there is
/// `isRunning`/`terminate()`, which Foundation allows from any thread once the process has started.
private final class WatchedProcess: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
    func terminateIfRunning() { if process.isRunning { process.terminate() } }
}
