import Yams

extension YAMLReader {
    /// A guest's `xl-config: {viridian: 1, vga: stdvga}`: extra xl.cfg keys in the order written, each a key xl.cfg(5)
    /// documents that xentest does not write itself, each value a string, a number, true/false or a list of those.
    /// Every problem is reported; nil when there was one.
    func xlConfig(_ node: Node) -> [XLConfigSetting]? {
        if case .scalar = node, isNull(node) { return [] }
        let entries = namedEntries(node, "xl-config")
        if case .mapping = node {} else { return nil }
        var settings: [XLConfigSetting] = []
        var ok = true
        for entry in entries {
            let value = xlConfigValue(entry.value, key: entry.name)
            guard xlConfigKeyIsAllowed(entry.name, at: entry.keyNode), let value else {
                ok = false
                continue
            }
            settings.append(XLConfigSetting(key: entry.name, value: value))
        }
        return ok ? settings : nil
    }

    /// Whether `key` is one xl.cfg(5) documents and xentest leaves to the plan; otherwise says why not at `keyNode`.
    private func xlConfigKeyIsAllowed(_ key: String, at keyNode: Node) -> Bool {
        if let instead = XLConfigSetting.reserved[key] {
            error("xl-config cannot set '\(key)', which xentest writes itself: \(instead)", at: keyNode)
            return false
        }
        guard XLConfigKeys.documented.contains(key) else {
            var message = "unknown xl.cfg key '\(key)' in xl-config"
            if let suggestion = closestMatch(to: key, in: XLConfigKeys.documented) {
                message += "; did you mean '\(suggestion)'?"
            } else {
                message += ": xl.cfg(5) of Xen 4.17 does not document it"
            }
            error(message, at: keyNode)
            return false
        }
        return true
    }

    /// One key's value: a plain number or true/false as such, anything else as text; a list of scalars as a list.
    private func xlConfigValue(_ node: Node, key: String) -> XLConfigValue? {
        switch node {
        case .scalar(let scalar):
            guard !isNull(node) else {
                error("xl-config '\(key)' has no value", at: node)
                return nil
            }
            guard xlConfigText(scalar.string, key: key, at: node) else { return nil }
            if scalar.style == .plain {
                if let number = Int(scalar.string) { return .integer(number) }
                if scalar.string == "true" || scalar.string == "false" { return .boolean(scalar.string == "true") }
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var items: [String] = []
            for item in sequence {
                guard case .scalar(let scalar) = item, !isNull(item) else {
                    error(
                        "each item of xl-config '\(key)' must be a string or a number, not \(kind(of: item))",
                        at: item
                    )
                    return nil
                }
                guard xlConfigText(scalar.string, key: key, at: item) else { return nil }
                items.append(scalar.string)
            }
            return .list(items)
        default:
            error(
                "xl-config '\(key)' must be a string, a number, true/false or a list of strings, not \(kind(of: node))",
                at: node
            )
            return nil
        }
    }

    /// Whether `text` can stand on one xl.cfg line: a line break (or any control character) would end the line and
    /// let a value write keys of its own.
    private func xlConfigText(_ text: String, key: String, at node: Node) -> Bool {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return true }
        let what = text.contains("\n") || text.contains("\r") ? "a line break" : "a control character"
        error("xl-config '\(key)' must not contain \(what): xl.cfg takes one key a line", at: node)
        return false
    }
}
