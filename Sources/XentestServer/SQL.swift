import Foundation

/// A value going into or coming out of a database: the four kinds both SQLite and PostgreSQL store alike.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])

    /// The text, or nil for anything else.
    public var text: String? { if case .text(let value) = self { value } else { nil } }
    /// The integer, or nil for anything else.
    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    /// The bytes, or nil for anything else.
    public var blob: [UInt8]? { if case .blob(let value) = self { value } else { nil } }
}

/// A database said no: what it said, and the statement.
public struct SQLError: Error, CustomStringConvertible {
    /// The database's own message.
    public var message: String
    /// The statement it refused (nil when opening or connecting failed).
    public var statement: String?

    /// An error from its parts.
    public init(_ message: String, statement: String? = nil) {
        self.message = message
        self.statement = statement
    }

    /// The message.
    public var description: String { statement.map { "\(message) (in: \($0))" } ?? message }
}

/// Where the dialects differ in what the store writes.
public enum SQLDialect: Sendable {
    case sqlite, postgres

    /// The column type of a row id its database makes.
    var serialKey: String { self == .sqlite ? "INTEGER PRIMARY KEY" : "BIGSERIAL PRIMARY KEY" }
    /// The column type of bytes.
    var bytes: String { self == .sqlite ? "BLOB" : "BYTEA" }
}

/// One open connection to a database. Not safe to share between threads: `Database` serializes the use of one.
public protocol SQLConnection: AnyObject {
    /// Which dialect it speaks.
    var dialect: SQLDialect { get }
    /// Runs one statement with `?` placeholders bound in order to `parameters`; the rows it returns.
    @discardableResult func execute(_ sql: String, _ parameters: [SQLValue]) throws(SQLError) -> [[SQLValue]]
}

extension SQLConnection {
    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN", [])
        do {
            let value = try body()
            try execute("COMMIT", [])
            return value
        } catch {
            _ = try? execute("ROLLBACK", [])
            throw error
        }
    }
}

/// A connection used by one thread at a time: every call runs on one serial queue, and the caller's task waits
/// without holding a thread of Swift's cooperative pool (a database call blocks its thread).
public final class Database: @unchecked Sendable {
    private let connection: any SQLConnection
    private let queue = DispatchQueue(label: "xentest.database")

    /// Serializes the use of `connection`, which this object now owns.
    public init(_ connection: any SQLConnection) { self.connection = connection }

    /// Opens what `location` names: `postgres://...` or `postgresql://...` (libpq's connection URI), else a
    /// SQLite file.
    public static func open(_ location: String) throws(SQLError) -> Database {
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            return Database(try PostgresConnection(uri: location))
        }
        return Database(try SQLiteConnection(path: location))
    }

    /// The dialect of the connection.
    public var dialect: SQLDialect { connection.dialect }

    /// Runs `body` with the connection, on its queue.
    public func with<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self.connection) }) }
        }
    }

    /// Runs `body` with the connection on the calling thread (for commands, not for the server's handlers).
    public func withBlocking<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try queue.sync { try body(connection) }
    }
}
