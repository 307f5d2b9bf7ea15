import CPostgres
import Foundation

/// A PostgreSQL database through libpq, PostgreSQL's own client library (Debian's libpq5). Statements take `?`
/// placeholders like SQLite's, numbered `$1`, `$2`, ... here; bytes go and come as binary, everything else as text.
public final class PostgresConnection: SQLConnection {
    private let handle: OpaquePointer
    /// The dialect it speaks.
    public let dialect = SQLDialect.postgres

    /// Connects to `uri` (`postgres://user@host:port/database`, libpq's connection URI).
    public init(uri: String) throws(SQLError) {
        guard let handle = PQconnectdb(uri) else { throw SQLError("cannot connect to PostgreSQL: out of memory") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(handle)
            throw SQLError("cannot connect to PostgreSQL at \(Self.redacted(uri)): \(message)")
        }
        self.handle = handle
        _ = try execute("SET client_min_messages = warning", [])
    }

    deinit { PQfinish(handle) }

    /// `uri` with any password replaced by `***`, for messages.
    static func redacted(_ uri: String) -> String {
        guard var parts = URLComponents(string: uri), parts.password != nil else { return uri }
        parts.password = "***"
        return parts.string ?? uri
    }

    /// `sql` with each `?` numbered as PostgreSQL wants it. The store's statements have no `?` in a literal.
    static func numbered(_ sql: String) -> String {
        var out = ""
        var count = 0
        for character in sql {
            if character == "?" {
                count += 1
                out += "$\(count)"
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// Runs one statement with its parameters bound in order; the rows it returns.
    @discardableResult public func execute(_ sql: String, _ parameters: [SQLValue]) throws(SQLError) -> [[SQLValue]] {
        if PQstatus(handle) != CONNECTION_OK { PQreset(handle) }
        // Each parameter as C memory libpq reads during the call: text NUL-terminated, bytes as they are.
        let buffers: [UnsafeMutablePointer<CChar>?] = parameters.map { value -> UnsafeMutablePointer<CChar>? in
            switch value {
            case .null: return nil
            case .integer(let number): return strdup(String(number))
            case .text(let text): return strdup(text)
            case .blob(let bytes):
                let memory = malloc(max(bytes.count, 1))!
                bytes.withUnsafeBytes { source in
                    if let base = source.baseAddress { memory.copyMemory(from: base, byteCount: source.count) }
                }
                return memory.assumingMemoryBound(to: CChar.self)
            }
        }
        defer { for buffer in buffers { free(buffer) } }
        let lengths = parameters.map { value -> Int32 in
            if case .blob(let bytes) = value { Int32(bytes.count) } else { 0 }
        }
        let formats = parameters.map { value -> Int32 in if case .blob = value { 1 } else { 0 } }
        let values = buffers.map { UnsafePointer($0) }
        let result = PQexecParams(handle, Self.numbered(sql), Int32(parameters.count), nil, values, lengths, formats, 0)
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK: return []
        case PGRES_TUPLES_OK: break
        default:
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw SQLError(message.isEmpty ? String(cString: PQerrorMessage(handle)) : message, statement: sql)
        }
        return (0..<PQntuples(result)).map { row in (0..<PQnfields(result)).map { column(result, row, $0) } }
    }

    private func column(_ result: OpaquePointer?, _ row: Int32, _ field: Int32) -> SQLValue {
        if PQgetisnull(result, row, field) == 1 { return .null }
        let text = String(cString: PQgetvalue(result, row, field))
        switch PQftype(result, field) {
        case 20, 21, 23: return Int64(text).map(SQLValue.integer) ?? .text(text)  // int8, int2, int4
        case 16: return .integer(text == "t" ? 1 : 0)  // bool
        case 17: return .blob(Self.bytes(hex: text))  // bytea, text form `\x0a1b...`
        default: return .text(text)
        }
    }

    /// The bytes of bytea's hex text form (`\x` then two hex digits a byte).
    static func bytes(hex text: String) -> [UInt8] {
        let digits = Array(text.utf8.dropFirst(2))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
        var index = 0
        while index + 1 < digits.count {
            bytes.append(nibble(digits[index]) << 4 | nibble(digits[index + 1]))
            index += 2
        }
        return bytes
    }
}
