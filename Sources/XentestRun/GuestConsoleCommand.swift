import XentestPlan
import XentestSupport

/// One command for the test guest's console shell, wrapped in markers that an echo of the typed line cannot fake.
///
/// The test guest (`xentest guest build`) runs a shell on its console with echo off and no prompt. The line typed
/// is `echo __XT_\B_n__; (eval COMMAND); echo __XT_\E_n_$?__` (the command escaped into one word): the shell prints
/// `__XT_B_n__`, the command's output, and `__XT_E_n_STATUS__`, while an echoed line (a console that still echoes, before the shell turned it off)
/// shows `__XT_\B_n__`, which never parses as a marker. The markers use a backslash, not quotes: a line typed
/// while the guest boots can lose characters, and a lost quote left the shell inside an open string, swallowing
/// every later line (seen in the lab: an HVM guest's shell never answered again). Each attempt gets a fresh `n`, so the output of an
/// earlier attempt that ran late is never taken for this one's. Every console transport (xl's pty, libvirt's
/// console stream) types the same line and parses the same way.
package struct GuestConsoleCommand: Sendable, Hashable {
    /// What the plan asked to run.
    var command: String
    /// This attempt's marker: hex digits.
    package var marker: String

    /// `command` with a random marker.
    package init(_ command: String) { self.init(command, marker: String(UInt32.random(in: 0...UInt32.max), radix: 16)) }

    init(_ command: String, marker: String) {
        self.command = command
        self.marker = marker
    }

    /// The line to type, newline included. The command goes to `eval` in a subshell as one word, every character
    /// but letters, digits and `_/.,:=+@%-` escaped with a backslash, so that whatever it ends with (`&`, `;`, a
    /// comment) or leaves open (a quote: a syntax error) stays inside it, and `exit` ends only the subshell: the end
    /// marker is always a command of its own, run by the console's shell. A backslash, not quotes, for the reason
    /// above.
    package var typed: String {
        "echo __XT_\\B_\(marker)__; (eval \(Self.escaped(command))); echo __XT_\\E_\(marker)_$?__\n"
    }

    /// `text` as one shell word whose value is `text`: each character a shell could read specially escaped.
    static func escaped(_ text: String) -> String {
        var word = ""
        for character in text {
            let plain =
                character.isASCII && (character.isLetter || character.isNumber || "_/.,:=+@%-".contains(character))
            word += plain ? String(character) : "\\\(character)"
        }
        return word.isEmpty ? "true" : word
    }

    /// A basic regular expression (sed) for the end marker's line, for readers that stop there.
    package var endMarkerBRE: String { "/__XT_E_\(marker)_[0-9]*__/q" }

    /// The exit status and the output between the markers in what the console showed; nil while the end marker
    /// has not arrived.
    package func result(in transcript: String) -> (status: Int, output: String)? {
        Self.parse(transcript, marker: marker)
    }

    /// The output between the markers and the exit status; nil when the end marker is missing.
    package static func parse(_ text: String, marker: String) -> (status: Int, output: String)? {
        let lines = text.replacingOccurrences(of: "\r", with: "")
            .split(separator: "\n", omittingEmptySubsequences: false)
        guard let begin = lines.firstIndex(where: { $0.hasSuffix("__XT_B_\(marker)__") }) else { return nil }
        let endPrefix = "__XT_E_\(marker)_"
        for index in lines.indices where index > begin {
            let line = lines[index]
            guard let range = line.range(of: endPrefix) else { continue }
            let rest = line[range.upperBound...]
            guard rest.hasSuffix("__"), let status = Int(rest.dropLast(2)) else { continue }
            var output = lines[(begin + 1)..<index].map(String.init)
            let before = line[..<range.lowerBound]
            if !before.isEmpty { output.append(String(before)) }  // output without a final newline
            return (status, output.joined(separator: "\n"))
        }
        return nil
    }
}
