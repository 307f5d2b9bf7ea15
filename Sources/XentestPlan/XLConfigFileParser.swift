/// libxlu's grammar (tools/libs/util/libxlu_cfg_l.l and libxlu_cfg_y.y in Xen's tree), read by hand so that every
/// problem gets a line and column: statements end at a line break or `;`, a key is `[a-z][._0-9a-z]*`, a number
/// `[0-9][0-9a-fx]*`, a string is single- or double-quoted on one line, and a list may span lines and end in a comma.
///
/// Like libxlu, a statement with an error is skipped to the end of its line and reading goes on, so every problem is
/// reported at once; as in libxlu, a line gets at most one error.
struct XLConfigFileParser {
    private let file: String
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var column = 1
    private var current = Token(kind: .end, text: "", location: SourceLocation(file: ""))
    private var lastErrorLine = 0
    /// How many lists are open around the value being read.
    private var depth = 0
    /// Lists nest a level or two in real configs (`vnuma`); deeper is refused before the recursion runs out of stack.
    static let maximumDepth = 32
    private var notedPython = false
    /// Every problem found, in the order found.
    private(set) var diagnostics: [Diagnostic] = []

    init(text: String, file: String) {
        self.file = file
        self.scalars = Array(text.unicodeScalars)
    }

    private struct Token {
        enum Kind: Equatable {
            case key(String)
            case number(String)
            case string(String)
            case comma, open, close, append, assign, semicolon, newline, end
            /// Text xl cannot read; already reported.
            case invalid
        }
        var kind: Kind
        var text: String
        var location: SourceLocation

        /// The token as a message names it.
        var described: String {
            switch kind {
            case .newline: "the end of the line"
            case .end: "the end of the file"
            case .string: text  // quoted already
            default: "'\(text)'"
            }
        }
    }

    /// Every assignment, in file order.
    mutating func parseFile() -> [XLConfigFile.Entry] {
        var entries: [XLConfigFile.Entry] = []
        advance()
        while current.kind != .end {
            switch current.kind {
            case .newline, .semicolon: advance()
            case .key(let key): if let entry = parseAssignment(key) { entries.append(entry) }
            case .invalid: skipStatement()
            default:
                error("expected a key at the start of a line, found \(current.described)", at: current.location)
                skipStatement()
            }
        }
        return entries
    }

    private mutating func parseAssignment(_ key: String) -> XLConfigFile.Entry? {
        let location = current.location
        advance()
        let operation: XLConfigFile.Operation
        switch current.kind {
        case .assign: operation = .assign
        case .append: operation = .append
        case .invalid:
            skipStatement()
            return nil
        default:
            error("expected '=' after '\(key)', found \(current.described)", at: current.location)
            skipStatement()
            return nil
        }
        advance()
        guard let value = parseValue(of: key) else {
            skipStatement()
            return nil
        }
        switch current.kind {
        case .newline, .semicolon: advance()
        case .end: break
        case .invalid:
            skipStatement()
            return nil
        default:
            error(
                "expected the end of the line after the value of '\(key)', found \(current.described)",
                at: current.location
            )
            skipStatement()
            return nil
        }
        return XLConfigFile.Entry(key: key, operation: operation, value: value, location: location)
    }

    private mutating func parseValue(of key: String) -> XLConfigFileValue? {
        let token = current
        switch token.kind {
        case .number(let text):
            advance()
            return XLConfigFileValue(kind: .text(text, quoted: false), location: token.location)
        case .string(let text):
            advance()
            return XLConfigFileValue(kind: .text(text, quoted: true), location: token.location)
        case .open:
            guard depth < Self.maximumDepth else {
                error("lists nested more than \(Self.maximumDepth) deep in '\(key)'", at: token.location)
                return nil
            }
            depth += 1
            defer { depth -= 1 }
            return parseList(of: key)
        case .invalid: return nil
        case .newline, .end, .semicolon:
            error("'\(key)' has no value: write a number, a \"string\" or a [list]", at: token.location)
        case .close: error("unbalanced ']': no list is open here", at: token.location)
        default: error("expected a value for '\(key)', found \(token.described)", at: token.location)
        }
        return nil
    }

    /// `[ value, value, ]`, over any number of lines.
    private mutating func parseList(of key: String) -> XLConfigFileValue? {
        let open = current.location
        var items: [XLConfigFileValue] = []
        advance()
        skipNewlines()
        while current.kind != .close {
            guard !listBroken(of: key, openedAt: open), let item = parseValue(of: key) else { return nil }
            items.append(item)
            skipNewlines()
            if current.kind == .comma {
                advance()
                skipNewlines()
            } else if current.kind != .close {
                guard !listBroken(of: key, openedAt: open), current.kind != .invalid else { return nil }
                error(
                    "expected ',' or ']' in the list of '\(key)' that starts at line \(open.line), found "
                        + "\(current.described)",
                    at: current.location
                )
                return nil
            }
        }
        advance()
        return XLConfigFileValue(kind: .list(items), location: open)
    }

    /// Whether the list ends without its `]`: at the end of the file, or at a key (most likely the next statement
    /// after a list left open); reported.
    private mutating func listBroken(of key: String, openedAt open: SourceLocation) -> Bool {
        switch current.kind {
        case .end: error("unbalanced '[': the list of '\(key)' that starts here has no ']'", at: open)
        case .key:
            error(
                "expected a value or ']' in the list of '\(key)' that starts at line \(open.line), found "
                    + "\(current.described): is a ']' missing?",
                at: current.location
            )
        default: return false
        }
        return true
    }

    private mutating func skipNewlines() { while current.kind == .newline { advance() } }

    /// Past the end of the current statement (libxlu's `error NEWLINE`).
    private mutating func skipStatement() {
        while current.kind != .newline && current.kind != .end { advance() }
        if current.kind == .newline { advance() }
    }

    private mutating func error(_ message: String, at location: SourceLocation) {
        guard location.line != lastErrorLine else { return }
        lastErrorLine = location.line
        diagnostics.append(.error(message, at: location))
    }

    // MARK: Lexing

    private mutating func advance() { current = nextToken() }

    private var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func consume() -> Unicode.Scalar {
        let scalar = scalars[index]
        index += 1
        if scalar == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        return scalar
    }

    private mutating func nextToken() -> Token {
        while peek == " " || peek == "\t" { _ = consume() }
        let location = SourceLocation(file: file, line: line, column: column)
        let start = index
        func text() -> String { String(String.UnicodeScalarView(scalars[start..<index])) }
        func token(_ kind: Token.Kind) -> Token { Token(kind: kind, text: text(), location: location) }
        guard let scalar = peek else { return token(.end) }
        switch scalar {
        case "\n":
            _ = consume()
            return token(.newline)
        case "#":
            while let next = peek, next != "\n" { _ = consume() }
            if peek == "\n" { _ = consume() }
            return Token(kind: .newline, text: "", location: location)
        case ",", "[", "]", ";", "=":
            _ = consume()
            let kinds: [Unicode.Scalar: Token.Kind] = [",": .comma, "[": .open, "]": .close, ";": .semicolon]
            return token(kinds[scalar] ?? .assign)
        case "+" where index + 1 < scalars.count && scalars[index + 1] == "=":
            _ = consume()
            _ = consume()
            return token(.append)
        case "a"..."z":
            while let next = peek,
                ("a"..."z").contains(next) || ("0"..."9").contains(next) || next == "_" || next == "."
            { _ = consume() }
            return token(.key(text()))
        case "0"..."9":
            while let next = peek, ("0"..."9").contains(next) || ("a"..."f").contains(next) || next == "x" {
                _ = consume()
            }
            return token(.number(text()))
        case "'", "\"": return string(quote: scalar, at: location)
        default: return invalid(at: location)
        }
    }

    /// A quoted string on one line, escapes undone as libxlu's `xlu__cfgl_dequote` does.
    private mutating func string(quote: Unicode.Scalar, at location: SourceLocation) -> Token {
        let start = index
        _ = consume()
        var text = String.UnicodeScalarView()
        var valid = true
        while true {
            guard let scalar = peek, scalar != "\n" else {
                error(
                    "unterminated string: the string that starts here has no closing \(quote) on its line",
                    at: location
                )
                return Token(kind: .invalid, text: "", location: location)
            }
            let escapeLocation = SourceLocation(file: file, line: line, column: column)
            _ = consume()
            if scalar == quote { break }
            guard scalar == "\\" else {
                text.append(scalar)
                continue
            }
            guard let escaped = peek, escaped != "\n" else { continue }
            _ = consume()
            let simple: [Unicode.Scalar: Unicode.Scalar] = [
                "\"": "\"", "'": "'", "\\": "\\", "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}", "n": "\n", "r": "\r",
                "t": "\t", "v": "\u{0B}",
            ]
            if let replacement = simple[escaped] {
                text.append(replacement)
            } else if escaped == "x" || ("0"..."7").contains(escaped) {
                // libxlu skips a digit of \x and always refuses it, and drops what an octal escape stands for.
                error(
                    "xl does not read numeric escapes such as '\\\(escaped)' (libxlu refuses or drops them); "
                        + "write the character itself",
                    at: escapeLocation
                )
                valid = false
            } else {
                error(
                    "'\\\(escaped)' is not an escape xl knows: it knows \\\\, \\\", \\', \\a, \\b, \\f, \\n, \\r, "
                        + "\\t and \\v",
                    at: escapeLocation
                )
                valid = false
            }
        }
        let source = String(String.UnicodeScalarView(scalars[start..<index]))
        return Token(kind: valid ? .string(String(text)) : .invalid, text: source, location: location)
    }

    /// Text xl cannot read, up to the next blank (libxlu's `lexerr` state), reported.
    private mutating func invalid(at location: SourceLocation) -> Token {
        let first = consume()
        var text = String.UnicodeScalarView([first])
        while let next = peek, next != " ", next != "\t", next != "\n" { text.append(consume()) }
        let shown = String(text).unicodeScalars.map { $0.value < 0x20 ? $0.escaped(asASCII: true) : String($0) }
            .joined()
        if first == "\r" {
            error("a carriage return: xl reads only \\n line ends (dos2unix converts the file)", at: location)
        } else if case .number(let number) = current.kind, current.location.line == location.line,
            current.location.column + number.unicodeScalars.count == location.column
        {
            error(
                "'\(number)\(shown)': a number is digits alone (xl reads memory in MiB, without a unit)",
                at: current.location
            )
        } else if ("A"..."Z").contains(first) {
            error("'\(shown)': xl.cfg keys are lowercase (letters, digits, '_' and '.')", at: location)
        } else {
            error(
                "xl cannot read '\(shown)': a line is 'key = value', the value a number, a \"string\" or a [list]",
                at: location
            )
        }
        // libxlu's likely_python: these characters start most Python that xm allowed.
        if "+-.():".unicodeScalars.contains(first) { notePython(at: location) }
        return Token(kind: .invalid, text: String(text), location: location)
    }

    private mutating func notePython(at location: SourceLocation) {
        guard !notedPython else { return }
        notedPython = true
        diagnostics.append(
            Diagnostic(
                severity: .note,
                message: "this looks like Python: xm ran its config files as Python, xl reads only 'key = value' "
                    + "lines (https://wiki.xen.org/wiki/PythonInXlConfig)",
                location: location
            )
        )
    }
}
