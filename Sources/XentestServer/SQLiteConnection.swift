import CSQLite
import Foundation

/// A SQLite database in a file, through the system's libsqlite3: write-ahead log and `synchronous=FULL`, so a
/// transaction that has committed is on disk (a server's acknowledgement means it), and readers never wait on the
/// writer.
public final class SQLiteConnection: SQLConnection {
    private var handle: OpaquePointer?
    /// The dialect it speaks.
    public let dialect = SQLDialect.sqlite

    /// Opens (or creates) the database at `path`.
    public init(path: String) throws(SQLError) {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw SQLError("cannot open SQLite database \(path): \(message)")
        }
        sqlite3_busy_timeout(handle, 10_000)
        try execute("PRAGMA journal_mode=WAL", [])
        try execute("PRAGMA synchronous=FULL", [])
        try execute("PRAGMA foreign_keys=ON", [])
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs one statement with its parameters bound in order; the rows it returns.
    @discardableResult public func execute(_ sql: String, _ parameters: [SQLValue]) throws(SQLError) -> [[SQLValue]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw error(sql) }
        defer { sqlite3_finalize(statement) }
        // SQLite's SQLITE_TRANSIENT: it copies what is bound before the call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let number): status = sqlite3_bind_int64(statement, index, number)
            case .text(let text): status = sqlite3_bind_text(statement, index, text, -1, transient)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes {
                    sqlite3_bind_blob64(
                        statement,
                        index,
                        $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!,
                        UInt64($0.count),
                        transient
                    )
                }
            }
            guard status == SQLITE_OK else { throw error(sql) }
        }
        var rows: [[SQLValue]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw error(sql) }
            rows.append((0..<sqlite3_column_count(statement)).map { column(statement, $0) })
        }
    }

    private func column(_ statement: OpaquePointer?, _ index: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard count > 0, let bytes = sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            guard let text = sqlite3_column_text(statement, index) else { return .null }
            return .text(String(cString: text))
        }
    }

    private func error(_ sql: String) -> SQLError { SQLError(String(cString: sqlite3_errmsg(handle)), statement: sql) }
}
