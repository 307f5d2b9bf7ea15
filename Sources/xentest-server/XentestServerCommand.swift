import ArgumentParser
import Foundation
import XentestServer

/// `xentest-server`: where a TestDay's testers send their runs, and where the release's matrix shows.
@main struct XentestServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xentest-server",
        abstract: "Keeps every tester's xentest runs and shows the release matrix, regressions and history.",
        discussion: """
            Examples:
              xentest-server token add alice           a token for tester alice (printed once)
              xentest-server serve --data /srv/xentest --listen 0.0.0.0:8080
              xentest-server serve --database postgres://xentest@db.example/xentest
            Testers then run: xentest run rc6 --submit http://HOST:8080 (token in XENTEST_TOKEN).
            """,
        subcommands: [Serve.self, Token.self],
        defaultSubcommand: Serve.self
    )
}

/// Where the runs are kept: a SQLite file in a folder, or a PostgreSQL database.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The folder of the SQLite database (made if missing).") var data = "xentest-data"

    @Option(name: .long, help: "A PostgreSQL database (postgres://USER@HOST:PORT/DB) instead of SQLite.") var database:
        String?

    /// The store, its tables made if new.
    func open() async throws -> (ResultStore, String) {
        if let database {
            guard database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") else {
                throw ValidationError("--database must be postgres://... (or leave it out for SQLite in --data)")
            }
            return (try await ResultStore(database: try Database.open(database)), "PostgreSQL")
        }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let file = URL(fileURLWithPath: data).appendingPathComponent("results.sqlite").path
        return (try await ResultStore(database: try Database.open(file)), "SQLite \(file)")
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the pages and take uploads.")

    @OptionGroup var store: StoreOptions

    @Option(name: .long, help: "ADDRESS:PORT to listen on (IPv4; port 0 lets the system choose).") var listen =
        "127.0.0.1:8080"

    @Option(name: .long, help: "The largest upload taken, in MiB.") var maxUploadMib = 32

    func run() async throws {
        let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]), !parts[0].isEmpty else {
            throw ValidationError("--listen must be ADDRESS:PORT, as 127.0.0.1:8080")
        }
        guard maxUploadMib > 0 else { throw ValidationError("--max-upload-mib must be at least 1") }
        let (resultStore, kind) = try await store.open()
        let uploads = UploadCheck(maxBodyBytes: maxUploadMib << 20, maxArchiveBytes: (maxUploadMib << 20) * 3 / 4)
        let server = ResultsServer(
            service: ResultsService(store: resultStore, uploads: uploads),
            host: String(parts[0]),
            port: port
        )
        try await server.run { port in
            // Unbuffered: a script that waits for this line (the tests, CI) sees it at once.
            FileHandle.standardOutput.write(
                Data("xentest-server: listening on http://\(parts[0]):\(port) (\(kind))\n".utf8)
            )
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list or remove testers' tokens.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a tester; prints their token once.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The tester's name, shown in the matrix.") var name: String

        func validate() throws {
            guard !name.isEmpty, name.count <= 64,
                name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) })
            else { throw ValidationError("a tester's name is 1 to 64 letters, digits, '-', '_', '.', '@'") }
        }

        func run() async throws {
            let token = try await store.open().0.addTester(name)
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The testers, and when each was added.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            for tester in try await store.open().0.testers() { print("\(tester.name)\t\(tester.added)") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a tester's token (their runs stay).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The tester's name.") var name: String

        func run() async throws {
            guard try await store.open().0.removeTester(name) else {
                throw ValidationError("no tester named '\(name)'")
            }
        }
    }
}
