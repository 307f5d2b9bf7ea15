import ArgumentParser
import Foundation
import XentestRun

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Send a run to a TestDay results server (xentest-server).",
        discussion: """
            Sends the run's report, and its journal and evidence as an archive of at most 16 MiB (evidence left \
            out, largest first, beyond that), with your token from --token-file or XENTEST_TOKEN (the server's \
            keeper makes one with `xentest-server token add NAME`). The same run sent twice is stored once. Needs \
            curl.

            Examples:
              XENTEST_TOKEN=xt_... xentest submit results/rc6-20261206T101500Z-host --to http://results.example:8080
              xentest run rc6 --submit http://results.example:8080     run, then send it
            """
    )

    @Argument(help: "A run directory (with journal.jsonl or report.json).", completion: .directory) var runDirectory:
        String

    @Option(help: "The results server: http(s)://HOST[:PORT].") var to: String

    @Option(help: "A file holding your token (else XENTEST_TOKEN).", completion: .file()) var tokenFile: String?

    func run() async throws {
        let uploader = try SubmitTarget(server: to, tokenFile: tokenFile).uploader()
        do {
            let sent = try await uploader.submit(run: runDirectory)
            Console.error(SubmitTarget.words(sent))
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(XentestExitStatus.failed)
        }
    }
}

/// Where and as whom a run is sent: checked before a run starts, so a missing token is not found after it.
struct SubmitTarget {
    var server: String
    var tokenFile: String?

    /// The uploader, or a usage error naming what is missing.
    func uploader() throws -> RunUploader {
        let url: String
        do { url = try RunUploader.checkServer(server) } catch { throw ValidationError("\(error)") }
        let token: String?
        do { token = try RunUploader.token(file: tokenFile) } catch { throw ValidationError("\(error)") }
        guard let token else {
            throw ValidationError("a token is needed to submit: set XENTEST_TOKEN or give --token-file FILE")
        }
        return RunUploader(server: url, token: token)
    }

    /// `submitted: URL`, with what the archive left out.
    static func words(_ sent: (page: String, new: Bool, omitted: [String])) -> [String] {
        var lines = [(sent.new ? "submitted: " : "submitted before (stored once): ") + sent.page]
        if !sent.omitted.isEmpty {
            lines.append(
                "note: left out of the archive to keep it under 16 MiB: " + sent.omitted.joined(separator: ", ")
            )
        }
        return lines
    }
}
