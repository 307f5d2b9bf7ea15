import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// An initramfs being assembled in a staging folder, then packed as a gzipped `newc` cpio archive (what Linux
/// unpacks into its root file system at boot).
///
/// Files come from unpacked Debian packages (`PackageTree`) or from text xentest writes; programs are copied with
/// every shared library they need (`installProgram`), read from their ELF headers, never by running them.
struct InitramfsTree {
    /// The staging folder: the image's `/`.
    let root: String
    /// Packages that programs and libraries are taken from, searched in order.
    let packages: [PackageTree]
    /// Image paths already copied, so a library shared by many programs is copied once.
    private(set) var installed: Set<String> = []

    /// Where the x86-64 dynamic loader looks for libraries when no cache tells it more (Debian's multiarch
    /// folders first).
    static let librarySearchPath = [
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
    ]

    /// An empty staging folder at `root` (whatever was there is removed).
    init(root: String, packages: [PackageTree]) throws {
        self.root = root
        self.packages = packages
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// The host path of an image path.
    func hostPath(_ path: String) -> String { root + (path.hasPrefix("/") ? path : "/" + path) }

    /// Creates folders (and their parents).
    func makeDirectories(_ paths: [String], mode: Int = 0o755) throws {
        for path in paths {
            try FileManager.default.createDirectory(
                atPath: hostPath(path),
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: mode]
            )
        }
    }

    /// Writes a text file (a script: mode 0755).
    func write(_ text: String, to path: String, mode: Int = 0o644) throws {
        try writeData(Data(text.utf8), to: path, mode: mode)
    }

    /// Writes a file.
    func writeData(_ data: Data, to path: String, mode: Int = 0o644) throws {
        let target = hostPath(path)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try? FileManager.default.removeItem(atPath: target)
        guard FileManager.default.createFile(atPath: target, contents: data, attributes: [.posixPermissions: mode])
        else { throw LabError("cannot write \(target)") }
    }

    /// A symbolic link at `path` to `target` (replacing what is there).
    func symlink(_ path: String, to target: String) throws {
        let link = hostPath(path)
        try FileManager.default.createDirectory(
            atPath: (link as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
    }

    /// Copies a host file (following links) to `path`, keeping its permissions.
    func copyHostFile(_ source: String, to path: String) throws {
        let target = hostPath(path)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try? FileManager.default.removeItem(atPath: target)
        let real = (source as NSString).resolvingSymlinksInPath
        try FileManager.default.copyItem(atPath: real, toPath: target)
    }

    /// The package tree and host path holding `path`, after links, in the first package that has it.
    func locate(_ path: String) -> (tree: PackageTree, hostPath: String)? {
        for tree in packages { if let resolved = tree.resolve(path) { return (tree, resolved) } }
        return nil
    }

    /// Copies a file from the packages to the same path (or `destination`) in the image, as a regular file.
    mutating func installFile(_ path: String, as destination: String? = nil) throws {
        let target = destination ?? path
        guard !installed.contains(target) else { return }
        guard let found = locate(path) else {
            throw LabError(
                "\(path) is in none of the unpacked packages (\(packages.map(\.name).joined(separator: ", "))); "
                    + "a newer Debian package may have moved it: report it with `apt-file search \(path)`"
            )
        }
        try copyHostFile(found.hostPath, to: target)
        installed.insert(target)
    }

    /// Copies a program from the packages with its interpreter and every shared library it needs, recursively.
    mutating func installProgram(_ path: String, as destination: String? = nil) throws {
        try installFile(path, as: destination)
        try installLibraries(of: path, installedAt: destination ?? path)
    }

    /// Copies the libraries an ELF file in the image needs; a script or data file needs none.
    private mutating func installLibraries(of sourcePath: String, installedAt imagePath: String) throws {
        guard let elf = try ELFFile.read(path: hostPath(imagePath)) else { return }
        if let interpreter = elf.interpreter, !installed.contains(interpreter) { try installFile(interpreter) }
        let origin = (sourcePath as NSString).deletingLastPathComponent
        let runpath = elf.runpath.map { $0.replacingOccurrences(of: "$ORIGIN", with: origin) }
        for soname in elf.needed {
            if Self.librarySearchPath.contains(where: { installed.contains($0 + "/" + soname) }) { continue }
            guard let directory = (runpath + Self.librarySearchPath).first(where: { locate($0 + "/" + soname) != nil })
            else {
                throw LabError(
                    "the shared library \(soname) that \(sourcePath) needs is in none of the downloaded packages "
                        + "(\(packages.map(\.name).joined(separator: ", "))): add the Debian package that has it "
                        + "to the image's package list"
                )
            }
            let library = directory + "/" + soname
            try installFile(library)
            try installLibraries(of: library, installedAt: library)
        }
    }

    /// Copies a folder from a package (files, links as links, sub-folders), skipping names `skip` rejects.
    mutating func installTree(_ path: String, from tree: PackageTree, skip: (String) -> Bool = { _ in false }) throws {
        guard let source = tree.resolve(path) else {
            throw LabError("\(path) is not in the package \(tree.name) (\(tree.file))")
        }
        let files = FileManager.default.enumerator(atPath: source)
        try makeDirectories([path])
        while let relative = files?.nextObject() as? String {
            if skip(relative) {
                files?.skipDescendants()
                continue
            }
            let from = source + "/" + relative
            let to = path + "/" + relative
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: from) {
                try symlink(to, to: target)
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: from, isDirectory: &isDirectory), isDirectory.boolValue {
                try makeDirectories([to])
            } else {
                try copyHostFile(from, to: to)
                installed.insert(to)
            }
        }
    }

    /// Copies kernel modules (and the modules they depend on) into `/lib/modules/VERSION`, with a `modules.dep`
    /// for busybox's modprobe. Returns the modules copied and the names that are built into the kernel.
    @discardableResult func installModules(_ names: [String], from modules: KernelModules, optional: Bool) throws
        -> KernelModules.Selection
    {
        let selection = try modules.select(names, optional: optional)
        let base = "/lib/modules/\(modules.version)"
        for relative in selection.files {
            try copyHostFile(modules.directory + "/" + relative, to: base + "/" + relative)
        }
        try write(selection.modulesDep, to: base + "/modules.dep")
        for extra in ["modules.builtin", "modules.order"]
        where FileManager.default.fileExists(atPath: modules.directory + "/" + extra) {
            try copyHostFile(modules.directory + "/" + extra, to: base + "/" + extra)
        }
        return selection
    }

    /// Packs the staging folder into `output` (a gzipped newc cpio archive, every file owned by root) with cpio
    /// and gzip; returns its size in bytes.
    func pack(to output: String, runner: any CommandRunner) async throws -> Int {
        let archive = output.hasSuffix(".gz") ? String(output.dropLast(3)) : output + ".cpio"
        try? FileManager.default.removeItem(atPath: archive)
        try? FileManager.default.removeItem(atPath: archive + ".gz")
        // Parents before children, in a stable order: the same tree gives the same archive.
        let names = (FileManager.default.subpaths(atPath: root) ?? []).sorted()
        _ = try await run(
            [
                "cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0", "--reproducible", "--force-local", "-D", root, "-F",
                archive,
            ],
            input: names.joined(separator: "\n") + "\n",
            runner: runner,
            package: "cpio",
            what: "pack \(root) into \(archive)"
        )
        _ = try await run(
            ["gzip", "-1", "-n", "-f", archive],
            input: nil,
            runner: runner,
            package: "gzip",
            what: "compress \(archive)"
        )
        if archive + ".gz" != output {
            try? FileManager.default.removeItem(atPath: output)
            try FileManager.default.moveItem(atPath: archive + ".gz", toPath: output)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: output)
        return (attributes?[.size] as? NSNumber)?.intValue ?? 0
    }

    private func run(_ argv: [String], input: String?, runner: any CommandRunner, package: String, what: String)
        async throws -> CommandResult
    {
        let result: CommandResult
        do { result = try await runner.run(argv, timeout: .seconds(600), input: input) } catch is CommandNotStarted {
            throw LabError.toolMissing(argv[0], package: package, for: what)
        }
        guard result.succeeded else {
            throw LabError.commandFailed(result, doing: what, next: "Is there room on that disk (df -h)?")
        }
        return result
    }
}

/// A kernel's loadable modules: where they are, which are built in, and what each depends on.
struct KernelModules {
    /// The host folder `.../lib/modules/VERSION`.
    let directory: String
    let version: String
    /// Module name (with `_`, as the kernel names them) to its path under `directory`.
    let files: [String: String]
    /// Names of modules built into the kernel.
    let builtin: Set<String>
    /// Dependencies from the folder's `modules.dep` when it has one (an installed kernel); otherwise each
    /// module's own `.modinfo` is read (an unpacked package has no `modules.dep`: depmod makes it at install).
    private let dependencyFile: [String: [String]]?

    /// What `select` picked.
    struct Selection: Equatable {
        /// Paths under the modules folder, each module after the ones it needs.
        var files: [String]
        /// The requested names that are built into the kernel (nothing to load).
        var builtin: [String]
        /// Optional names this kernel has neither as a module nor built in.
        var absent: [String]
        /// `modules.dep` for the selection, in depmod's format.
        var modulesDep: String
    }

    /// A module name as the kernel keeps it: `-` and `_` are the same.
    static func normalized(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }

    /// The module name of a file: `kernel/net/bridge/bridge.ko` -> `bridge`.
    static func moduleName(ofFile path: String) -> String {
        var base = (path as NSString).lastPathComponent
        for suffix in [".xz", ".zst", ".gz"] where base.hasSuffix(suffix) { base = String(base.dropLast(suffix.count)) }
        if base.hasSuffix(".ko") { base = String(base.dropLast(3)) }
        return normalized(base)
    }

    /// Indexes the modules under `directory` (`.../lib/modules/VERSION`).
    init(directory: String) throws {
        self.directory = directory
        version = (directory as NSString).lastPathComponent
        var files: [String: String] = [:]
        for relative in FileManager.default.subpaths(atPath: directory) ?? [] where relative.contains(".ko") {
            let name = (relative as NSString).lastPathComponent
            guard
                name.hasSuffix(".ko") || name.hasSuffix(".ko.xz") || name.hasSuffix(".ko.zst")
                    || name.hasSuffix(".ko.gz")
            else { continue }
            files[Self.moduleName(ofFile: relative)] = relative
        }
        guard !files.isEmpty else { throw LabError("\(directory) holds no kernel modules") }
        self.files = files
        let builtinText = (try? String(contentsOfFile: directory + "/modules.builtin", encoding: .utf8)) ?? ""
        builtin = Set(builtinText.split(separator: "\n").map { Self.moduleName(ofFile: String($0)) })
        if let depText = try? String(contentsOfFile: directory + "/modules.dep", encoding: .utf8) {
            var dependencies: [String: [String]] = [:]
            for line in depText.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard let file = parts.first else { continue }
                let deps =
                    parts.count > 1 ? parts[1].split(separator: " ").map { Self.moduleName(ofFile: String($0)) } : []
                dependencies[Self.moduleName(ofFile: String(file))] = deps
            }
            dependencyFile = dependencies
        } else {
            dependencyFile = nil
        }
    }

    /// The modules a module needs to load first.
    func dependencies(of name: String) throws -> [String] {
        if let dependencyFile { return dependencyFile[name] ?? [] }
        guard let relative = files[name] else { return [] }
        guard relative.hasSuffix(".ko") else {
            throw LabError(
                "\(directory)/\(relative) is compressed and the folder has no modules.dep: run depmod \(version)"
            )
        }
        return (try ELFFile.read(path: directory + "/" + relative)?.moduleDependencies ?? []).map(Self.normalized)
    }

    /// The files to copy for `names` and their dependencies. A name that is neither a module nor built in is an
    /// error unless `optional`.
    func select(_ names: [String], optional: Bool) throws -> Selection {
        var order: [String] = []  // load order: dependencies first
        var seen: Set<String> = []
        var builtinNames: [String] = []
        var absent: [String] = []
        var needs: [String: [String]] = [:]
        func visit(_ name: String) throws {
            guard !seen.contains(name) else { return }
            seen.insert(name)
            let deps = try dependencies(of: name)
            needs[name] = deps
            for dep in deps where files[dep] != nil { try visit(dep) }
            order.append(name)
        }
        for requested in names {
            let name = Self.normalized(requested)
            if files[name] != nil {
                try visit(name)
            } else if builtin.contains(name) {
                builtinNames.append(requested)
            } else if optional {
                absent.append(requested)
            } else {
                throw LabError(
                    "the kernel \(version) (\(directory)) has no module \(requested) and does not build it in"
                )
            }
        }
        // depmod lists every module a module needs, transitively, each before the modules it needs itself: a
        // modprobe loads the list from its end.
        func transitive(_ name: String) -> Set<String> {
            var result: Set<String> = []
            var pending = needs[name] ?? []
            while let module = pending.popLast() {
                guard files[module] != nil, result.insert(module).inserted else { continue }
                pending += needs[module] ?? []
            }
            return result
        }
        let lines = order.map { name in
            let needed = transitive(name)
            return ([files[name]! + ":"] + order.reversed().filter(needed.contains).map { files[$0]! })
                .joined(separator: " ")
        }
        return Selection(
            files: order.map { files[$0]! },
            builtin: builtinNames,
            absent: absent,
            modulesDep: lines.joined(separator: "\n") + "\n"
        )
    }
}
