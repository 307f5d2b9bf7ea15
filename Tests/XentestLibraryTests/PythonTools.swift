import Foundation

/// The Python checkers under `Tests/tools/`: programs nobody here wrote (jsonschema, junitparser, kcidb-io,
/// selenium with Chromium) reading xentest's reports. `scripts/setup` installs what they import.
enum PythonTools {
    /// Whether `python3` can import every module in `modules` (`"jsonschema, junitparser"`).
    static func canImport(_ modules: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import \(modules)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// Runs `Tests/tools/<script>` with `arguments`; its exit status, and stdout and stderr together.
    static func run(_ script: String, _ arguments: [String]) throws -> (status: Int32, text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", Fixtures.repositoryRoot.appendingPathComponent("Tests/tools/\(script)").path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
