/// The order of releases as a release manager reads them: `4.17.0-rc2` < `4.17.0-rc10` < `4.17.0` < `4.17.1`.
///
/// A release is cut into runs of digits (compared as numbers) and of other characters (compared as text); a
/// release that is another with a pre-release suffix (`-rc6`, `~rc6`) comes before it.
public enum ReleaseOrder {
    /// Whether `lhs` comes before `rhs`.
    public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        let (lhsBase, lhsPre) = split(lhs)
        let (rhsBase, rhsPre) = split(rhs)
        if lhsBase != rhsBase { return naturalPrecedes(lhsBase, rhsBase) }
        switch (lhsPre, rhsPre) {
        case (nil, nil): return false
        case (nil, _): return false
        case (_, nil): return true
        case (let left?, let right?): return naturalPrecedes(left, right)
        }
    }

    /// `releases` oldest first, each once.
    public static func sorted(_ releases: some Sequence<String>) -> [String] { Set(releases).sorted(by: precedes) }

    /// The base and the pre-release suffix (`rc6`), split at the first `-` or `~` followed by a letter.
    static func split(_ release: String) -> (String, String?) {
        let characters = Array(release)
        for index in characters.indices.dropLast()
        where (characters[index] == "-" || characters[index] == "~") && characters[index + 1].isLetter {
            return (String(characters[..<index]), String(characters[(index + 1)...]))
        }
        return (release, nil)
    }

    /// Digit runs as numbers, the rest as text.
    static func naturalPrecedes(_ lhs: String, _ rhs: String) -> Bool {
        let left = chunks(lhs)
        let right = chunks(rhs)
        for (a, b) in zip(left, right) where a != b {
            switch (Int(a), Int(b)) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }
        return left.count < right.count
    }

    static func chunks(_ text: String) -> [String] {
        var out: [String] = []
        for character in text {
            if let last = out.last, last.last!.isNumber == character.isNumber {
                out[out.count - 1].append(character)
            } else {
                out.append(String(character))
            }
        }
        return out
    }
}
