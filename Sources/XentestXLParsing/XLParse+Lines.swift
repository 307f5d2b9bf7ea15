import Foundation
import XentestPlan

extension XLParse {
    /// Lines numbered from 1, without `\n` or a trailing `\r`; the empty piece after a final newline is dropped.
    static func numberedLines(_ text: String) -> [(Int, String)] {
        var pieces = text.split(separator: "\n", omittingEmptySubsequences: false)
        if pieces.last?.isEmpty == true { pieces.removeLast() }
        return pieces.enumerated()
            .map { index, piece in (index + 1, String(piece.hasSuffix("\r") ? piece.dropLast() : piece)) }
    }

    static func isBlank(_ text: some StringProtocol) -> Bool {
        text.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    }

    /// Columns split on spaces and tabs; the substrings index into `line`.
    static func tokens(_ line: String) -> [Substring] { line.split(whereSeparator: { $0 == " " || $0 == "\t" }) }

    static func words(_ text: String) -> [String] { tokens(text).map(String.init) }

    static func hexNumber(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ isHexDigit($0) }) else { return nil }
        return Int(text, radix: 16)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
    }

    static func isMAC(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && $0.utf8.allSatisfy(isHexDigit) }
    }

    /// The rows after a header whose columns must be exactly `header`; empty output is an error.
    static func headerAndRows(_ text: String, command: String, header: [String]) throws(XLParseError) -> ArraySlice<
        (Int, String)
    > {
        let numbered = numberedLines(text).filter { !isBlank($0.1) }
        guard let (number, line) = numbered.first else {
            throw XLParseError(command: command, reason: "empty output; xl prints a header first")
        }
        guard tokens(line).map(String.init) == header else {
            throw XLParseError(
                command: command,
                lineNumber: number,
                line: line,
                reason: "expected the header '\(header.joined(separator: " "))'"
            )
        }
        return numbered.dropFirst()
    }

    /// `rbpsRd` flags -> state and shutdown reason; nil when a flag is not its letter or '-'.
    static func decodeDomainFlags(_ flags: String) -> (XLDomainState, XLShutdownReason?)? {
        let characters = Array(flags)
        guard characters.count == 6, "r-".contains(characters[0]), "b-".contains(characters[1]),
            "p-".contains(characters[2]), "s-".contains(characters[3]), "d-".contains(characters[5])
        else { return nil }
        let isShutdown = characters[3] == "s"
        let reason: XLShutdownReason?
        switch characters[4] {
        case "-": reason = isShutdown ? .poweroff : nil
        case "r": reason = .reboot
        case "s": reason = .suspend
        case "c": reason = .crash
        case "w": reason = .watchdog
        case "S": reason = .softReset
        case "?": reason = .unknown
        default: return nil
        }
        // xl prints a reason letter only for a domain that has shut down.
        if !isShutdown, reason != nil { return nil }
        let state: XLDomainState =
            if characters[5] == "d" { .dying } else if reason == .crash { .crashed } else if isShutdown {
                .shutdown
            } else if characters[2] == "p" { .paused } else { .running }
        return (state, reason)
    }

    /// Throws when `data` is not JSON at all, naming the line Foundation points at ("around character N"), or the
    /// last line when the text ends early.
    static func checkJSONSyntax(_ data: Data, text: String, command: String) throws(XLParseError) {
        do { _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            let lines = numberedLines(text)
            var lineNumber: Int?
            if let match = detail.firstMatch(of: /character (\d+)/), let offset = Int(match.1) {
                lineNumber = data.prefix(max(0, offset)).reduce(1) { $1 == 0x0a ? $0 + 1 : $0 }
            } else if detail.localizedCaseInsensitiveContains("end of file") {
                lineNumber = lines.last?.0
            }
            let line = lineNumber.flatMap { number in lines.first { $0.0 == number }?.1 }
            throw XLParseError(
                command: command,
                lineNumber: line == nil ? nil : lineNumber,
                line: line,
                reason: "not valid JSON (\(detail))"
            )
        }
    }

    /// A decoding failure of `xl list -l` (valid JSON, wrong structure) as a parse error without a line number.
    static func jsonError(_ error: DecodingError, text: String, command: String) -> XLParseError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            return XLParseError(command: command, reason: "\(path(context.codingPath + [key])) is missing")
        case .valueNotFound(_, let context):
            return XLParseError(command: command, reason: "\(path(context.codingPath)) is null")
        case .typeMismatch(let type, let context):
            let place = context.codingPath.isEmpty ? "the top level" : path(context.codingPath)
            return XLParseError(command: command, reason: "\(place) is not \(type)")
        case .dataCorrupted(let context):
            return XLParseError(command: command, reason: "not the expected JSON: \(context.debugDescription)")
        @unknown default: return XLParseError(command: command, reason: "not the expected JSON: \(error)")
        }
    }
}
