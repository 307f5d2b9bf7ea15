import Foundation

extension XLConfigImport {
    /// The guest as plan YAML: a mapping to paste under a case's `guest:` (or under `guests: NAME:`), with only the
    /// keys the config set or that differ from a plan's defaults. It loads back through `PlanLoader` unchanged.
    public var guestYAML: String {
        var lines = ["type: \(guest.type.rawValue)"]
        if setsMemory { lines.append("memory: \(guest.memory)") }
        if guest.vcpus != 1 { lines.append("vcpus: \(guest.vcpus)") }
        if guest.maxvcpus != guest.vcpus { lines.append("maxvcpus: \(guest.maxvcpus)") }
        if guest.nics != 0 { lines.append("nics: \(guest.nics)") }
        if !guest.pci.isEmpty { lines.append("pci: [\(guest.pci.joined(separator: ", "))]") }
        if guest.passthrough && guest.pci.isEmpty { lines.append("passthrough: true") }
        if !guest.xlConfig.isEmpty {
            lines.append("xl-config:")
            for setting in guest.xlConfig {
                let value: String =
                    switch setting.value {
                    case .integer(let number): String(number)
                    case .boolean(let flag): String(flag)
                    case .string(let text): Self.yamlScalar(text)
                    case .list(let items): "[" + items.map(Self.yamlScalar).joined(separator: ", ") + "]"
                    }
                lines.append("  \(setting.key): \(value)")
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// `text` plain when YAML reads it back as the same string, double-quoted (JSON's escapes) otherwise: a
    /// number, `true`, `null`, an empty string or punctuation would read as something else.
    static func yamlScalar(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || "_./-".unicodeScalars.contains($0)
        }
        let special = ["true", "false", "yes", "no", "on", "off", "null", "y", "n"].contains(text.lowercased())
        let first = text.unicodeScalars.first
        if plain, !special, let first, first != "-", first != ".", Double(text) == nil, Int(text) == nil { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                quoted += "\\u" + hexDigits(scalar.value, width: 4)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
