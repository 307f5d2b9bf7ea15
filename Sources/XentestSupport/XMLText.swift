/// Text made safe for XML content and for attribute values in either kind of quotes, for every XML xentest writes
/// (libvirt domain XML, JUnit). Characters XML 1.0 cannot carry at all (control characters other than tab, newline
/// and carriage return; U+FFFE, U+FFFF) are dropped.
package func xmlEscaped(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&apos;"
        case "\n", "\t", "\r": result.unicodeScalars.append(scalar)
        default:
            if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { continue }
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}
