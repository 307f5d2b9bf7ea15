import XentestPlan

/// One row of a device table (`xl network-list`, `xl block-list`): its columns, and errors that name its line.
struct XLTableRow {
    let command: String
    let number: Int
    let line: String
    let columns: [String]

    /// An error at this row.
    func fail(_ reason: String) -> XLParseError {
        XLParseError(command: command, lineNumber: number, line: line, reason: reason)
    }

    /// Column `column` as a number of at least `minimum` (-1 where xl prints -1 for none).
    func integer(_ column: Int, _ label: String, minimum: Int = 0) throws(XLParseError) -> Int {
        guard let value = Int(columns[column]), value >= minimum else {
            throw fail("the \(label) column '\(columns[column])' is not a number")
        }
        return value
    }

    /// Column `column` as a xenstore path.
    func path(_ column: Int, _ label: String) throws(XLParseError) -> String {
        guard columns[column].hasPrefix("/") else {
            throw fail("the \(label) column '\(columns[column])' is not a path")
        }
        return columns[column]
    }
}

extension XLParse {
    /// The rows of a device table under exactly `header`, each of `layout.count` columns. Header-only output is no
    /// rows (a guest without such devices); empty output is an error, as xl always prints the header.
    static func deviceTable(_ text: String, command: String, header: [String], layout: [String]) throws(XLParseError)
        -> [XLTableRow]
    {
        let numbered = numberedLines(text).filter { !isBlank($0.1) }
        guard let (headerNumber, headerLine) = numbered.first else {
            throw XLParseError(command: command, reason: "empty output; xl prints a header first")
        }
        guard words(headerLine) == header else {
            throw XLParseError(
                command: command,
                lineNumber: headerNumber,
                line: headerLine,
                reason: "expected the header '\(header.joined(separator: " "))'"
            )
        }
        var rows: [XLTableRow] = []
        for (number, line) in numbered.dropFirst() {
            let row = XLTableRow(command: command, number: number, line: line, columns: words(line))
            guard row.columns.count == layout.count else {
                throw row.fail("expected \(layout.count) columns: \(layout.joined(separator: " "))")
            }
            rows.append(row)
        }
        return rows
    }
}
