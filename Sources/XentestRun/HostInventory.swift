import XentestPlan
import XentestSupport

/// What a case can leave behind on a Xen host, and the tails of its logs: taken before a case and after its
/// teardown, as OSSTest's `ts-leak-check` does, so a leak or a hypervisor warning is blamed on the case that made it.
public struct HostInventory: Sendable, Hashable {
    /// The objects by kind (`domains`, `vifs`, `loop-devices`, `xenstore-domains`, `pciback-devices`, `files`,
    /// `device-models`), each a set of names.
    public var objects: [String: Set<String>]
    /// The last lines of the hypervisor's log (`xl dmesg`), oldest first.
    public var hypervisorLog: [String]
    /// The last lines of dom0's kernel log (`dmesg`), oldest first.
    public var kernelLog: [String]

    /// An inventory of `objects` with the logs' tails.
    public init(objects: [String: Set<String>], hypervisorLog: [String], kernelLog: [String]) {
        self.objects = objects
        self.hypervisorLog = hypervisorLog
        self.kernelLog = kernelLog
    }

    /// What this inventory has that `before` did not, by kind, sorted: `vifs: vif5.0`.
    public func leaked(since before: HostInventory) -> [(kind: String, names: [String])] {
        objects.keys.sorted()
            .compactMap { kind in
                let new = (objects[kind] ?? []).subtracting(before.objects[kind] ?? [])
                return new.isEmpty ? nil : (kind, new.sorted())
            }
    }

    /// The lines of `after` that came after `before`'s last lines: the longest tail of `before` that `after` still
    /// holds marks where the new lines start (the log is a ring, so its start moves). When `after` holds none of
    /// `before`'s last line, every line of `after` is new.
    public static func newLines(_ before: [String], _ after: [String]) -> [String] {
        guard let last = before.last else { return after }
        var best: Int?
        var bestLength = 0
        for end in after.indices where after[end] == last {
            var length = 0
            while length <= end, length < before.count, after[end - length] == before[before.count - 1 - length] {
                length += 1
            }
            if length >= bestLength {
                best = end
                bestLength = length
            }
        }
        guard let best else { return after }
        return Array(after[(best + 1)...])
    }

    /// Whether a log line says something went wrong: a warning, a `BUG`, a failed assertion, a panic.
    public static func isProblem(_ line: String) -> Bool {
        line.contains(/(?i:\bwarn(ing)?\b)|\bBUG\b|(?i:\bassertion\b)|(?i:\bpanic)/)
    }
}

/// The inventory's shell script and how to read what it prints: sections `## KIND`, one name a line. Fixed text,
/// never a plan's, run by `sh -c`: one round trip for the whole inventory, also over SSH.
package enum HostInventoryScript {
    /// The script, for the folders `runDirectories` (xentest's own: xl.cfg and save files) besides Xen's.
    package static func script(runDirectories: [String]) -> String {
        let folders = (["/var/lib/xen"] + runDirectories).map(shellQuoted).joined(separator: " ")
        return """
            echo '## domains'; xl list 2>/dev/null | tail -n +2 | while read -r name rest; do echo "$name"; done
            echo '## xenstore-domains'; xenstore-list /local/domain 2>/dev/null
            echo '## vifs'; ls /sys/class/net 2>/dev/null | grep -E '^(vif|tap)[0-9]'
            echo '## loop-devices'; for d in /sys/block/loop*; do [ -e "$d/loop/backing_file" ] && echo "${d##*/} $(cat "$d/loop/backing_file")"; done
            echo '## pciback-devices'; ls /sys/bus/pci/drivers/pciback 2>/dev/null | grep -E '^[0-9a-f]{4}:'
            echo '## files'; for f in \(folders); do [ -d "$f" ] && find "$f" -maxdepth 1 -type f 2>/dev/null; done
            echo '## device-models'; ps -e -o args 2>/dev/null | grep -E '[q]emu-system-i386|[q]emu-dm'
            echo '## hypervisor-log'; xl dmesg 2>/dev/null | tail -n 300
            echo '## kernel-log'; dmesg 2>/dev/null | tail -n 300
            true

            """
    }

    /// The inventory the script printed: every section, in any order; unknown sections are an error, so a change
    /// of the script cannot be misread.
    package static func parse(_ text: String) throws(InventoryParseError) -> HostInventory {
        var objects: [String: Set<String>] = [:]
        var hypervisorLog: [String] = []
        var kernelLog: [String] = []
        var section: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("## ") {
                let name = String(line.dropFirst(3))
                guard sections.contains(name) else { throw InventoryParseError("unknown section '\(name)'") }
                section = name
                if objectSections.contains(name) { objects[name] = objects[name] ?? [] }
                continue
            }
            guard let section else {
                if line.isEmpty { continue }
                throw InventoryParseError("a line before the first section: '\(line)'")
            }
            switch section {
            case "hypervisor-log": hypervisorLog.append(line)
            case "kernel-log": kernelLog.append(line)
            default:
                let name = line.trimmingCharacters(in: .whitespaces)
                if !name.isEmpty, !(section == "domains" && name == "Domain-0") {
                    objects[section, default: []].insert(name)
                }
            }
        }
        for name in objectSections where objects[name] == nil {
            throw InventoryParseError("section '\(name)' is missing: the script did not run to its end")
        }
        while hypervisorLog.last == "" { hypervisorLog.removeLast() }
        while kernelLog.last == "" { kernelLog.removeLast() }
        return HostInventory(objects: objects, hypervisorLog: hypervisorLog, kernelLog: kernelLog)
    }

    static let objectSections = [
        "domains", "xenstore-domains", "vifs", "loop-devices", "pciback-devices", "files", "device-models",
    ]
    static let sections = objectSections + ["hypervisor-log", "kernel-log"]
}

/// The inventory script's output could not be read.
package struct InventoryParseError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// One reading of a host's inventory: what it found, or why it could not, with the command that read it.
public struct InventoryReading: Sendable {
    /// The inventory; nil when it could not be read.
    public var inventory: HostInventory?
    /// The command, as evidence.
    public var evidence: [Evidence]
    /// Why there is no inventory.
    public var problem: String?

    /// Runs the inventory script through `shell` and reads what it prints.
    package static func read(through shell: any CommandRunner, runDirectories: [String]) async -> InventoryReading {
        let script = HostInventoryScript.script(runDirectories: runDirectories)
        do {
            let result = try await shell.run(["sh", "-c", script], timeout: .seconds(60))
            guard result.succeeded else {
                return InventoryReading(
                    inventory: nil,
                    evidence: [result.evidence],
                    problem: "the inventory script failed (exit \(result.status)): \(result.stderr.suffix(200))"
                )
            }
            do {
                return InventoryReading(
                    inventory: try HostInventoryScript.parse(result.stdout),
                    evidence: [result.evidence],
                    problem: nil
                )
            } catch { return InventoryReading(inventory: nil, evidence: [result.evidence], problem: "\(error)") }
        } catch { return InventoryReading(inventory: nil, evidence: [], problem: "\(error)") }
    }
}
