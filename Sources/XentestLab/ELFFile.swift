import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// What an image builder needs to know about an x86-64 ELF file: its program interpreter, the shared libraries it
/// names, where it looks for them, and (for kernel modules) the modules it depends on.
///
/// Read straight from the file, so nothing downloaded is ever run on the host to find out (`ldd` runs the
/// program's interpreter).
struct ELFFile: Sendable, Hashable {
    /// `PT_INTERP`: `/lib64/ld-linux-x86-64.so.2`, or nil for a static program or a library.
    var interpreter: String?
    /// `DT_NEEDED`: sonames, in file order.
    var needed: [String]
    /// `DT_RUNPATH` or `DT_RPATH` directories (`$ORIGIN` left as written).
    var runpath: [String]
    /// For a kernel module: the `depends=` entry of its `.modinfo` section (module names).
    var moduleDependencies: [String]

    /// Why a file could not be read as ELF.
    struct Unreadable: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "\(path): \(reason)" }
    }

    /// The file's ELF facts, or nil when it is not an ELF file (a script, data).
    static func read(path: String) throws -> ELFFile? {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Unreadable(path: path, reason: "cannot open")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4)) ?? Data()
        guard head.elementsEqual([0x7F, 0x45, 0x4C, 0x46]) else { return nil }
        try handle.seek(toOffset: 0)
        guard let data = try handle.readToEnd() else { throw Unreadable(path: path, reason: "cannot read") }
        return try parse(data, path: path)
    }

    /// Parses an ELF image held in memory.
    static func parse(_ data: Data, path: String = "(memory)") throws -> ELFFile {
        let bytes = [UInt8](data)
        func fail(_ reason: String) -> Unreadable { Unreadable(path: path, reason: reason) }
        guard bytes.count >= 64, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else {
            throw fail("not an ELF file")
        }
        guard bytes[4] == 2, bytes[5] == 1 else { throw fail("not a 64-bit little-endian ELF file") }
        func u16(_ offset: Int) throws -> Int {
            guard offset >= 0, offset + 2 <= bytes.count else { throw fail("truncated") }
            return Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
        }
        func u32(_ offset: Int) throws -> Int {
            guard offset >= 0, offset + 4 <= bytes.count else { throw fail("truncated") }
            return (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        func u64(_ offset: Int) throws -> UInt64 {
            guard offset >= 0, offset + 8 <= bytes.count else { throw fail("truncated") }
            return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        func int(_ value: UInt64) throws -> Int {
            guard value <= UInt64(bytes.count) else { throw fail("offset out of the file") }
            return Int(value)
        }
        func cString(at offset: Int) throws -> String {
            guard offset >= 0, offset < bytes.count else { throw fail("string out of the file") }
            let end = bytes[offset...].firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[offset..<end], as: UTF8.self)
        }

        var file = ELFFile(interpreter: nil, needed: [], runpath: [], moduleDependencies: [])

        // Program headers: the interpreter, the dynamic section, and the loaded segments that map addresses to
        // file offsets.
        let programHeaders = try int(u64(0x20))
        let programHeaderSize = try u16(0x36)
        let programHeaderCount = try u16(0x38)
        var loads: [(address: UInt64, offset: UInt64, size: UInt64)] = []
        var dynamic: (offset: Int, size: Int)?
        for index in 0..<programHeaderCount {
            let header = programHeaders + index * programHeaderSize
            let type = try u32(header)
            let offset = try u64(header + 8)
            let address = try u64(header + 16)
            let size = try u64(header + 32)
            switch type {
            case 1: loads.append((address, offset, size))
            case 2: dynamic = (try int(offset), try int(size))
            case 3: file.interpreter = try cString(at: int(offset))
            default: break
            }
        }
        if let dynamic {
            var entries: [(tag: UInt64, value: UInt64)] = []
            var cursor = dynamic.offset
            while cursor + 16 <= dynamic.offset + dynamic.size {
                let tag = try u64(cursor)
                if tag == 0 { break }
                entries.append((tag, try u64(cursor + 8)))
                cursor += 16
            }
            if let table = entries.first(where: { $0.tag == 5 })?.value {
                guard let segment = loads.first(where: { table >= $0.address && table < $0.address + $0.size }) else {
                    throw fail("string table outside the loaded segments")
                }
                let tableOffset = try int(table - segment.address + segment.offset)
                for entry in entries {
                    switch entry.tag {
                    case 1: file.needed.append(try cString(at: tableOffset + int(entry.value)))
                    case 15, 29:
                        file.runpath += try cString(at: tableOffset + int(entry.value)).split(separator: ":")
                            .map(String.init)
                    default: break
                    }
                }
            }
        }

        // Section headers: only kernel modules need them (.modinfo), and only relocatable files have it.
        let sectionHeaders = try int(u64(0x28))
        let sectionHeaderSize = try u16(0x3A)
        let sectionCount = try u16(0x3C)
        let namesIndex = try u16(0x3E)
        if sectionHeaders > 0, sectionCount > 0, namesIndex < sectionCount {
            let namesOffset = try int(u64(sectionHeaders + namesIndex * sectionHeaderSize + 0x18))
            for index in 0..<sectionCount {
                let header = sectionHeaders + index * sectionHeaderSize
                guard try cString(at: namesOffset + u32(header)) == ".modinfo" else { continue }
                let offset = try int(u64(header + 0x18))
                let size = try int(u64(header + 0x20))
                guard offset + size <= bytes.count else { throw fail(".modinfo out of the file") }
                for field in bytes[offset..<(offset + size)].split(separator: 0) {
                    let text = String(decoding: field, as: UTF8.self)
                    if text.hasPrefix("depends=") {
                        file.moduleDependencies = text.dropFirst("depends=".count).split(separator: ",")
                            .map(String.init)
                    }
                }
            }
        }
        return file
    }
}
