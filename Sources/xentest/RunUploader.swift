import Foundation
import XentestRun
import XentestSupport

/// Sends a run to a results server (`xentest submit`, `xentest run --submit`): its report and, as a bounded
/// `.tar.gz`, its journal and evidence, through `curl` (Debian's, so https and proxies work as the tester set them).
/// The token goes in a header file only this user can read, never on a command line.
struct RunUploader {
    /// The server, `http(s)://HOST[:PORT]`.
    var server: String
    /// The tester's token.
    var token: String
    /// The largest archive sent; evidence files are left out, largest first, until it fits.
    var archiveLimit = 16 << 20

    /// The token from `--token-file`, else from `XENTEST_TOKEN`; nil when neither has one.
    static func token(file: String?) throws -> String? {
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw UploadFailure("the token file \(file) is empty") }
            return text
        }
        let variable = ProcessInfo.processInfo.environment["XENTEST_TOKEN"] ?? ""
        return variable.isEmpty ? nil : variable
    }

    /// Checks a server URL before anything runs.
    static func checkServer(_ url: String) throws -> String {
        guard let parts = URLComponents(string: url), parts.scheme == "http" || parts.scheme == "https",
            parts.host?.isEmpty == false, parts.query == nil
        else { throw UploadFailure("'\(url)' is not a server URL such as http://results.example:8080") }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// What the server said: the run's page, and whether it was new.
    struct Reply: Decodable {
        var url: String
        var stored: String
    }

    /// Uploads the run in `directory`; the run's page on the server.
    func submit(run directory: String) async throws -> (page: String, new: Bool, omitted: [String]) {
        let result: RunResult
        do { result = try RunResult.load(run: directory) } catch { throw UploadFailure("cannot read the run \(error)") }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "xentest-submit-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(
            at: scratch,
            withIntermediateDirectories: false,
            attributes: [.posixPermissions: 0o700]
        )
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (archive, omitted) = try await makeArchive(directory, scratch: scratch.path)
        let submission = RunSubmission(report: result, archive: archive?.base64EncodedString(), archiveOmitted: omitted)
        let body = scratch.appendingPathComponent("body.json")
        try JSONCoders.makeEncoder().encode(submission).write(to: body)
        let header = scratch.appendingPathComponent("auth")
        try FileWrites.writeAll(Data("Authorization: Bearer \(token)\n".utf8), toNewFile: header.path)
        let reply = try await LocalCommandRunner()
            .run(
                [
                    "curl", "--silent", "--show-error", "--max-time", "300", "--header", "@" + header.path, "--header",
                    "Content-Type: application/json", "--data-binary", "@" + body.path, "--write-out", "\n%{http_code}",
                    server + "/api/runs",
                ],
                timeout: .seconds(330)
            )
        guard reply.succeeded else {
            throw UploadFailure(
                "cannot reach \(server): \(reply.stderr.trimmed.isEmpty ? "curl exited \(reply.status)" : reply.stderr.trimmed)"
            )
        }
        let lines = reply.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let text = lines.dropLast().joined(separator: "\n")
        guard status == 200 || status == 201 else {
            let message = (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)))?["error"] ?? text
            throw UploadFailure("\(server) refused the run (HTTP \(status)): \(message)")
        }
        guard let decoded = try? JSONDecoder().decode(Reply.self, from: Data(text.utf8)) else {
            throw UploadFailure("\(server) answered HTTP \(status) with something that is not xentest-server's reply")
        }
        return (server + decoded.url, decoded.stored == "new", omitted)
    }

    /// The run directory's journal and evidence as a `.tar.gz` no larger than `archiveLimit`, and the files left
    /// out to keep it so (largest first). Nil when the folder has neither.
    private func makeArchive(_ directory: String, scratch: String) async throws -> (Data?, [String]) {
        var files = ["journal.jsonl"].filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        let cases = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/cases")) ?? []
        var evidence = cases.sorted().map { "cases/\($0)/evidence.txt" }
            .filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        func size(_ file: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + file))?[.size] as? Int) ?? 0
        }
        var omitted: [String] = []
        files += evidence
        while !files.isEmpty {
            let archive = scratch + "/run.tar.gz"
            let tar = try await LocalCommandRunner()
                .run(
                    ["tar", "--create", "--gzip", "--file", archive, "--directory", directory, "--"] + files,
                    timeout: .seconds(120)
                )
            guard tar.succeeded else { throw UploadFailure("cannot archive the run: \(tar.stderr.trimmed)") }
            let data = try Data(contentsOf: URL(fileURLWithPath: archive))
            if data.count <= archiveLimit { return (data, omitted) }
            // Too large: leave out the largest evidence, then the journal (report.json keeps every step anyway).
            evidence.sort { size($0) > size($1) }
            let dropped = evidence.isEmpty ? files[0] : evidence.removeFirst()
            omitted.append(dropped)
            files.removeAll { $0 == dropped }
        }
        return (nil, omitted)
    }
}

/// A run could not be submitted; the message says why and what to do.
struct UploadFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
