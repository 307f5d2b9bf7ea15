import Foundation

/// UTC timestamps with milliseconds, the one date format of journals and reports.
public enum ISO8601 {
    /// `2026-11-25T10:15:00.123Z`, without a formatter object: one is made per call otherwise, and a run writes
    /// thousands of dates.
    public static func format(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        var seconds = time_t((milliseconds / 1000).rounded(.down))
        let fraction = Int(milliseconds - Double(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(fraction), 3) + "Z"
    }

    /// Parses an ISO 8601 date and time with its time zone, with or without fractional seconds; nil when it is not one.
    public static func parse(_ text: String) -> Date? {
        parserLock.withLock { fractional.date(from: text) ?? whole.date(from: text) }
    }

    // Parsing happens only when a journal or report is read back; one formatter pair, used under a lock.
    private static let parserLock = NSLock()
    nonisolated(unsafe) private static let fractional: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
    nonisolated(unsafe) private static let whole = ISO8601DateFormatter()
}

/// The JSON coders of journals and reports: dates as `ISO8601.format` writes them.
public enum JSONCoders {
    /// A JSON encoder that writes dates as `ISO8601.format` does.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.format(date))
        }
        return encoder
    }

    /// A JSON decoder that reads dates with `ISO8601.parse`; a string that is not a date is a `DecodingError`.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = ISO8601.parse(text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "bad date \(text)")
                )
            }
            return date
        }
        return decoder
    }
}
