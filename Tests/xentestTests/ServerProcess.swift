import Foundation
import XentestRun
import XentestSupport

/// A `xentest-server` process on a port of its own, as a coordinator starts it; killed when the test ends.
final class ServerProcess {
    let process = Process()
    /// `http://127.0.0.1:PORT`.
    let url: String
    private let output: URL

    /// Starts `xentest-server serve --listen 127.0.0.1:0 arguments` and waits for its "listening on" line.
    init(_ arguments: [String]) throws {
        guard let products = XentestProcess.productsDirectory else { throw XentestProcess.BinaryNotFound() }
        output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "xentest-server-\(UUID().uuidString).out"
        )
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.executableURL = products.appendingPathComponent("xentest-server")
        process.arguments = ["serve", "--listen", "127.0.0.1:0"] + arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while true {
            let text = String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self)
            if let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                url = String(text[range])
                return
            }
            guard process.isRunning, Date() < deadline else {
                process.terminate()
                throw ServerDidNotStart(output: text)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    deinit { stop(signal: SIGKILL) }

    /// Sends `signal` and waits for the process to end.
    func stop(signal: Int32 = SIGTERM) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: output)
    }

    /// `GET path`: the status and body.
    func get(_ path: String) throws -> (status: Int, body: String) { try curl(["--request", "GET", url + path]) }

    /// `POST /api/runs` with `body` and `token`: the status and body.
    func post(_ body: Data, token: String?) throws -> (status: Int, body: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("xentest-upload-\(UUID().uuidString)")
        try body.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let auth = token.map { ["--header", "Authorization: Bearer \($0)"] } ?? []
        return try curl(auth + ["--data-binary", "@" + file.path, url + "/api/runs"])
    }

    /// Runs curl (Debian's) and splits its output into the body and the status it writes last.
    private func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["--silent", "--max-time", "60", "--write-out", "\n%{http_code}"] + arguments
        let pipe = Pipe()
        curl.standardOutput = pipe
        try curl.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    struct ServerDidNotStart: Error, CustomStringConvertible {
        var output: String
        var description: String { "xentest-server did not start:\n\(output)" }
    }
}

/// A run's report edited by a test, written where `xentest submit` reads it (a folder with report.json).
func writeRun(_ result: RunResult, into directory: URL) throws -> String {
    let folder = directory.appendingPathComponent("\(result.release)-\(result.runID)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try JSONCoders.makeEncoder().encode(result).write(to: folder.appendingPathComponent("report.json"))
    return folder.path
}
