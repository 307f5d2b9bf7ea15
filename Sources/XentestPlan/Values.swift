import Foundation
import XentestSupport

/// An amount of memory written as `256M`, `1G`, `512MiB` or `1GiB` (binary units throughout).
public struct MemorySize: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The size in MiB, the unit both `xl.cfg` and this harness reason in.
    public var mebibytes: Int

    /// A size of `mebibytes` MiB.
    public init(mebibytes: Int) { self.mebibytes = mebibytes }

    /// `256M` or `2G`.
    public var description: String { mebibytes % 1024 == 0 ? "\(mebibytes / 1024)G" : "\(mebibytes)M" }

    static func parse(_ text: String) -> Result<MemorySize, ValueError> {
        let units: [(String, Int)] = [("MiB", 1), ("GiB", 1024), ("M", 1), ("G", 1024)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            guard let value = Int(text.dropLast(unit.count)), value > 0 else { break }
            guard value <= (1 << 24) / scale else { return .failure(ValueError("'\(text)' is more than 16 TiB")) }
            return .success(MemorySize(mebibytes: value * scale))
        }
        return .failure(ValueError("'\(text)' is not a memory size; write a number and M or G, such as 256M or 1G"))
    }
}

/// A PCI address in the form `xl` takes: `0000:03:00.0` (domain optional: `03:00.0`).
public struct PCIAddress: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// PCI segment (domain), 0 to 0xffff.
    public var domain: Int
    /// Bus, 0 to 0xff.
    public var bus: Int
    /// Device (slot), 0 to 0x1f.
    public var device: Int
    /// Function, 0 to 7.
    public var function: Int

    /// The address of `domain:bus:device.function`; the caller checks the ranges (`init(parsing:)` does).
    public init(domain: Int, bus: Int, device: Int, function: Int) {
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// The canonical form `dddd:bb:dd.f`.
    public var description: String {
        hexDigits(domain, width: 4) + ":" + hexDigits(bus, width: 2) + ":" + hexDigits(device, width: 2) + "."
            + String(function)
    }

    /// The name libvirt gives the node device: `pci_dddd_bb_dd_f`.
    public var libvirtNodeDeviceName: String {
        "pci_" + hexDigits(domain, width: 4) + "_" + hexDigits(bus, width: 2) + "_" + hexDigits(device, width: 2) + "_"
            + String(function)
    }

    /// By domain, then bus, device and function.
    public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
        (lhs.domain, lhs.bus, lhs.device, lhs.function) < (rhs.domain, rhs.bus, rhs.device, rhs.function)
    }

    /// Parses `[dddd:]bb:dd.f` in hexadecimal, as `xl pci-assignable-add` accepts it.
    public static func parse(_ text: String) -> Result<PCIAddress, ValueError> {
        let failure = ValueError(
            "'\(text)' is not a PCI address; write it as 0000:03:00.0 (domain:bus:device.function)"
        )
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return .failure(failure) }
        let slotAndFunction = parts[parts.count - 1].split(separator: ".", omittingEmptySubsequences: false)
        guard slotAndFunction.count == 2 else { return .failure(failure) }
        func field(_ text: Substring, maxDigits: Int, limit: Int) -> Int? {
            // Hex digits only: Int(_:radix:) alone also takes a sign, so "-1:00.0" would be bus -1.
            let isHex = text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0 & 0xDF) }
            guard !text.isEmpty, isHex, text.count <= maxDigits, let value = Int(text, radix: 16), value <= limit else {
                return nil
            }
            return value
        }
        guard let domain = parts.count == 3 ? field(parts[0], maxDigits: 4, limit: 0xffff) : 0,
            let bus = field(parts[parts.count - 2], maxDigits: 2, limit: 0xff),
            let device = field(slotAndFunction[0], maxDigits: 2, limit: 0x1f),
            let function = field(slotAndFunction[1], maxDigits: 1, limit: 7)
        else { return .failure(failure) }
        return .success(PCIAddress(domain: domain, bus: bus, device: device, function: function))
    }
}

/// A dotted version such as `4.17.7` or `4.3.0-rc6` (anything after '-' or '+' is ignored for comparison).
public struct Version: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// Numeric components, most significant first.
    public var components: [Int]

    /// A version from its components.
    public init(_ components: [Int]) { self.components = components }

    /// Parses the leading dotted numbers of `text`; nil when there are none.
    public init?(_ text: String) {
        let core = text.prefix { $0 != "-" && $0 != "+" && $0 != " " }
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        var numbers: [Int] = []
        for part in parts {
            guard let number = Int(part), number >= 0 else { return nil }
            numbers.append(number)
        }
        guard !numbers.isEmpty, numbers.count <= 4 else { return nil }
        components = numbers
    }

    /// The components joined with dots (`4.3.0`); a suffix such as `-rc6` is not kept.
    public var description: String { components.map(String.init).joined(separator: ".") }

    /// Equal when neither is less: `4.17` and `4.17.0` are the same version (so `== 4.17` matches a 4.17.0 host).
    public static func == (lhs: Version, rhs: Version) -> Bool { !(lhs < rhs) && !(rhs < lhs) }

    /// Hashes the components without trailing zeros, to agree with `==`.
    public func hash(into hasher: inout Hasher) {
        var significant = components[...]
        while significant.last == 0 { significant = significant.dropLast() }
        hasher.combine(Array(significant))
    }

    /// Component by component, a missing one counting as 0: `4.17 < 4.17.1`, and `4.17` is not less than `4.17.0`.
    public static func < (lhs: Version, rhs: Version) -> Bool {
        let count = max(lhs.components.count, rhs.components.count)
        for index in 0..<count {
            let left = index < lhs.components.count ? lhs.components[index] : 0
            let right = index < rhs.components.count ? rhs.components[index] : 0
            if left != right { return left < right }
        }
        return false
    }
}

/// A set of versions: comparisons joined by commas, all of which must hold (`>= 4.3, < 4.5`).
public struct VersionRange: Sendable, Hashable, Codable, CustomStringConvertible {
    /// One comparison.
    public struct Bound: Sendable, Hashable, Codable {
        /// `<`, `<=`, `>`, `>=` or `==`.
        public var comparison: String
        /// The version compared with.
        public var version: Version
    }

    /// Every bound must hold.
    public var bounds: [Bound]

    /// Whether `version` satisfies every bound.
    public func contains(_ version: Version) -> Bool {
        bounds.allSatisfy { bound in
            switch bound.comparison {
            case "<": version < bound.version
            case "<=": version <= bound.version
            case ">": version > bound.version
            case ">=": version >= bound.version
            default: version == bound.version
            }
        }
    }

    /// As written, normalised: `>= 4.3, < 4.5`.
    public var description: String { bounds.map { "\($0.comparison) \($0.version)" }.joined(separator: ", ") }

    static func parse(_ text: String) -> Result<VersionRange, ValueError> {
        var bounds: [Bound] = []
        for part in text.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let comparison = ["<=", ">=", "==", "<", ">"].first(where: { trimmed.hasPrefix($0) }) else {
                return .failure(ValueError("'\(trimmed)' must start with <, <=, >, >= or =="))
            }
            let versionText = trimmed.dropFirst(comparison.count).trimmingCharacters(in: .whitespaces)
            // One version and nothing after it: `>= 4.17 < 4.18` is two comparisons without their comma, not
            // `>= 4.17` (Version alone would read the leading number and drop the rest).
            if let extra = versionText.firstIndex(where: { $0.isWhitespace || "<>=!&|".contains($0) }),
                extra != versionText.startIndex
            {
                let rest = versionText[extra...].trimmingCharacters(in: .whitespaces)
                let comparisonFollows = ["<", ">", "=", "!", "&", "|"].contains { rest.hasPrefix($0) }
                return .failure(
                    ValueError(
                        "'\(trimmed)' has '\(rest)' after its version"
                            + (comparisonFollows
                                ? "; join comparisons with a comma: '>= 4.17, < 4.18'"
                                : "; a bound is one comparison and one version: '>= 4.17'")
                    )
                )
            }
            guard let version = Version(versionText) else {
                return .failure(ValueError("'\(versionText)' is not a version such as 4.3 or 4.17.2"))
            }
            bounds.append(Bound(comparison: comparison, version: version))
        }
        guard !bounds.isEmpty else { return .failure(ValueError("a version range such as '>= 4.3' is needed")) }
        return .success(VersionRange(bounds: bounds))
    }
}

/// Lower-case hexadecimal, zero-padded to `width` digits: PCI addresses, MAC bytes, libvirt's `0x..` attributes.
package func hexDigits(_ value: some BinaryInteger, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// A set of physical CPUs as `xl vcpu-pin` takes and `xl vcpu-list` prints it: `all`, `1`, `0-1`, `0,2-3`.
public struct CPUSet: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The CPUs; nil for every CPU of the host (`all`).
    public var cpus: Set<Int>?

    /// Every CPU of the host.
    public static let all = CPUSet(cpus: nil)

    /// These CPUs (an empty set is no CPU); use `all` for every one.
    public init(cpus: Set<Int>?) { self.cpus = cpus }

    /// The highest CPU named; nil for `all`.
    public var highest: Int? { cpus?.max() }

    /// `all`, or `all` when the CPUs are every one of a host with `hostCPUs` CPUs, so that the toolstacks (xl prints
    /// `all` for a full set) compare alike.
    public func normalized(hostCPUs: Int) -> CPUSet {
        guard let cpus, hostCPUs > 0, cpus == Set(0..<hostCPUs) else { return self }
        return .all
    }

    /// The shortest form: `all`, or ranges joined by commas (`0-1,3`).
    public var description: String {
        guard let cpus else { return "all" }
        var parts: [String] = []
        var start: Int?
        var previous = -2
        for cpu in cpus.sorted() {
            if cpu != previous + 1, let first = start {
                parts.append(first == previous ? "\(first)" : "\(first)-\(previous)")
                start = nil
            }
            if start == nil { start = cpu }
            previous = cpu
        }
        if let first = start { parts.append(first == previous ? "\(first)" : "\(first)-\(previous)") }
        return parts.joined(separator: ",")
    }

    /// The largest CPU number a plan may name.
    public static let maximumCPU = 4095

    /// Reads `all`, a CPU (`1`), a range (`0-3`) or a comma-separated list of them. xl's exclusions (`^2`) and
    /// NUMA nodes (`nodes:0`) are not part of the plan language.
    public static func parse(_ text: String) -> Result<CPUSet, ValueError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "all" { return .success(.all) }
        let failure = ValueError(
            "'\(text)' is not a set of CPUs; write 'all', a CPU such as 1, a range such as 0-3, or a list such as 0,2-3"
        )
        func number(_ part: Substring) -> Int? {
            guard !part.isEmpty, part.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(part),
                value <= maximumCPU
            else { return nil }
            return value
        }
        var cpus = Set<Int>()
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard let low = bounds.first.flatMap(number) else { return .failure(failure) }
            let high = bounds.count == 2 ? number(bounds[1]) : bounds.count == 1 ? low : nil
            guard let high, low <= high else { return .failure(failure) }
            cpus.formUnion(low...high)
        }
        return .success(CPUSet(cpus: cpus))
    }
}
