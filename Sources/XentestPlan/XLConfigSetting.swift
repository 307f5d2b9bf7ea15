/// A value a plan gives an extra xl.cfg key: what xl's config syntax holds (xl.cfg(5), SYNTAX).
public enum XLConfigValue: Sendable, Hashable, CustomStringConvertible {
    /// Text, written double-quoted.
    case string(String)
    /// A whole number, written bare.
    case integer(Int)
    /// `true` or `false` in the plan; xl reads booleans as 1 and 0.
    case boolean(Bool)
    /// `[ "a", "b" ]`: for keys that take a list (`viridian`, `cpuid`, `device_model_args`).
    case list([String])

    /// The value as a boolean, for keys xl reads as one: `true`/`false`, or 1/0 written as a number or as text; nil
    /// for anything else.
    public var boolean: Bool? {
        switch self {
        case .boolean(let value): value
        case .integer(0), .string("0"): false
        case .integer(1), .string("1"): true
        default: nil
        }
    }

    /// The value as a whole number: a number, or text that is one; nil otherwise.
    public var integer: Int? {
        switch self {
        case .integer(let value): value
        case .string(let text): Int(text)
        default: nil
        }
    }

    /// As the plan could write it: `stdvga`, `64`, `true`, `[base, freq]`.
    public var description: String {
        switch self {
        case .string(let text): text
        case .integer(let value): String(value)
        case .boolean(let value): String(value)
        case .list(let items): "[" + items.joined(separator: ", ") + "]"
        }
    }
}

/// One extra xl.cfg key of a guest (`xl-config:`): a key xl.cfg(5) documents and xentest does not write itself.
public struct XLConfigSetting: Sendable, Hashable {
    /// The xl.cfg key (`viridian`).
    public var key: String
    /// What the plan sets it to.
    public var value: XLConfigValue

    /// Keys xentest writes itself from the guest's spec, the host file or its own needs, each with what to do
    /// instead: a plan that set one would fight the guest xentest builds (and its teardown, console and steps).
    package static let reserved: [String: String] = {
        var reasons: [String: String] = [
            "name": "xentest names the domain (xentest-RUN-CASE) so that teardown and 'xentest clean' find it",
            "memory": "use the guest's 'memory:'",
            "maxmem": "use the guest's 'memory:'; a case changes the most memory with a 'mem-max' step",
            "vcpus": "use the guest's 'vcpus:'", "maxvcpus": "use the guest's 'maxvcpus:'",
            "kernel": "the host file's 'guest-kernel' names the kernel",
            "ramdisk": "the host file's 'guest-ramdisk' names the ramdisk", "disk": "use the guest's 'disks:'",
            "vif": "use the guest's 'nics:'", "pci": "use the guest's 'pci:' (roles the host file maps to devices)",
            "passthrough": "use the guest's 'passthrough: true'",
            "uuid": "libxl gives each domain its own; a fixed one would collide between cases",
            "serial": "xentest reads an HVM guest's console on its serial port (serial = \"pty\")",
        ]
        for key in ["type", "builder"] { reasons[key] = "use the guest's 'type:'" }
        for key in ["extra", "cmdline", "root"] {
            reasons[key] = "xentest writes the kernel command line (its console, then the host file's 'guest-cmdline')"
        }
        for key in ["on_poweroff", "on_reboot", "on_crash"] {
            reasons[key] =
                "xentest sets on_poweroff, on_reboot and on_crash: its shutdown and reboot steps rely on them"
        }
        return reasons
    }()
}

extension GuestSpec {
    /// The value the guest's `xl-config:` gives `key`, if any.
    public func xlConfigValue(_ key: String) -> XLConfigValue? { xlConfig.last { $0.key == key }?.value }
}
