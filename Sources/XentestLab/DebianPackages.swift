import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// Debian packages fetched with `apt-get download` and unpacked with `dpkg-deb -x` into a cache: never installed,
/// so nothing on the host changes and no package's scripts run.
///
/// The cache holds `debs/NAME_VERSION_ARCH.deb` and `unpacked/NAME_VERSION_ARCH/` (the package's files, as
/// `dpkg-deb -x` leaves them). A package already there is neither downloaded nor unpacked again.
public struct DebianPackageCache: Sendable {
    /// The cache folder.
    public var root: String
    /// Runs apt-get, apt-cache and dpkg-deb.
    public var runner: any CommandRunner

    /// A cache in `root`; its commands (apt-get, apt-cache, dpkg-deb) run on this machine unless `runner` says
    /// otherwise.
    public init(root: String = DebianPackageCache.defaultRoot, runner: any CommandRunner = LocalCommandRunner()) {
        self.root = root
        self.runner = runner
    }

    /// `$XDG_CACHE_HOME/xentest/packages`, or `~/.cache/xentest/packages`.
    public static var defaultRoot: String { XentestCache.directory + "/packages" }

    var debsDirectory: String { root + "/debs" }
    var unpackedDirectory: String { root + "/unpacked" }

    /// The versioned kernel package `linux-image-amd64` currently points to (`linux-image-6.1.0-27-amd64`).
    public func kernelPackageName(meta: String = "linux-image-amd64") async throws -> String {
        let depends = try await dependencies(of: [meta])
        guard let name = depends[meta]?.first(where: { $0.hasPrefix("linux-image-") }) else {
            throw LabError.packagesNotDownloadable(
                [meta],
                detail: "apt-cache depends \(meta) names no linux-image package"
            )
        }
        return name
    }

    /// `names` plus every library package they depend on, directly or through other libraries, sorted.
    ///
    /// Only library packages are followed (`lib*`, `zlib1g`): a program's shared libraries come from them, while
    /// its other dependencies (python3, udev, debconf) are not needed to run it from an initramfs.
    public func withLibraryDependencies(_ names: [String]) async throws -> [String] {
        var all = Set(names)
        var frontier = names
        while !frontier.isEmpty {
            let depends = try await dependencies(of: frontier)
            frontier = []
            for name in depends.values.joined() where Self.isLibraryPackage(name) && !all.contains(name) {
                all.insert(name)
                frontier.append(name)
            }
        }
        return all.sorted()
    }

    /// Whether a package holds shared libraries by Debian's naming.
    static func isLibraryPackage(_ name: String) -> Bool {
        (name.hasPrefix("lib") && !name.hasSuffix("-dev") && !name.hasSuffix("-bin") && !name.hasSuffix("-common")
            && !name.hasSuffix("-data") && !name.hasSuffix("-doc")) || name == "zlib1g"
    }

    /// The Depends and Pre-Depends of each package, as `apt-cache depends` gives them (first alternatives).
    func dependencies(of names: [String]) async throws -> [String: [String]] {
        let argv =
            [
                "apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
                "--no-replaces", "--no-enhances",
            ] + names
        let result = try await runCommand(
            argv,
            timeout: .seconds(120),
            what: "list the dependencies of \(names.joined(separator: " "))"
        )
        guard result.succeeded else { throw LabError.packagesNotDownloadable(names, detail: Self.aptMessage(result)) }
        return Self.parseDepends(result.stdout)
    }

    /// Parses `apt-cache depends` output: for each package, its dependencies (the first alternative of each
    /// `|Depends` group; for a virtual package, its first provider).
    static func parseDepends(_ text: String) -> [String: [String]] {
        var result: [String: [String]] = [:]
        var current: String?
        // A `|` before a dependency means the next line is its alternative: only the first of a group is taken.
        var inAlternatives = false
        var awaitingProvider = false
        func add(_ name: String, to package: String) {
            let plain = name.split(separator: ":").first.map(String.init) ?? name
            if !result[package, default: []].contains(plain) { result[package, default: []].append(plain) }
        }
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !line.hasPrefix(" ") {
                current = trimmed
                result[trimmed] = result[trimmed] ?? []
                inAlternatives = false
                awaitingProvider = false
                continue
            }
            guard let package = current else { continue }
            if line.hasPrefix("    ") {
                // A package providing the virtual package just above.
                if awaitingProvider { add(trimmed, to: package) }
                awaitingProvider = false
                continue
            }
            let isAlternative = trimmed.hasPrefix("|")
            let field = isAlternative ? String(trimmed.dropFirst()) : trimmed
            let laterAlternative = inAlternatives
            inAlternatives = isAlternative
            awaitingProvider = false
            guard field.hasPrefix("Depends: ") || field.hasPrefix("PreDepends: "), !laterAlternative else { continue }
            let name = String(field.drop { $0 != " " }.dropFirst())
            if name.hasPrefix("<") { awaitingProvider = true } else { add(name, to: package) }
        }
        return result
    }

    /// Downloads the packages not yet in the cache and unpacks those not yet unpacked.
    public func fetch(_ names: [String], progress: @Sendable (String) -> Void = { _ in }) async throws -> [PackageTree]
    {
        try FileManager.default.createDirectory(atPath: debsDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: unpackedDirectory, withIntermediateDirectories: true)
        let missing = names.filter { debFile(for: $0) == nil }
        if !missing.isEmpty {
            progress("downloading \(missing.count) Debian package(s) with apt-get download")
            // apt-get download writes into the working directory; `env -C` sets it without a shell.
            let argv =
                ["env", "-C", debsDirectory, "apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"] + missing
            let result = try await runCommand(argv, timeout: .seconds(900), what: "download Debian packages")
            guard result.succeeded else {
                throw LabError.packagesNotDownloadable(missing, detail: Self.aptMessage(result))
            }
        }
        var trees: [PackageTree] = []
        for name in names {
            guard let deb = debFile(for: name) else {
                throw LabError.packagesNotDownloadable(
                    [name],
                    detail: "apt-get download left no \(name)_*.deb in \(debsDirectory)"
                )
            }
            let base = String(deb.dropLast(".deb".count))
            let tree = PackageTree(name: name, file: deb, root: unpackedDirectory + "/" + base)
            let marker = tree.root + "/.xentest-unpacked"
            if !FileManager.default.fileExists(atPath: marker) {
                try? FileManager.default.removeItem(atPath: tree.root)
                try FileManager.default.createDirectory(atPath: tree.root, withIntermediateDirectories: true)
                let result = try await runCommand(
                    ["dpkg-deb", "-x", debsDirectory + "/" + deb, tree.root],
                    timeout: .seconds(600),
                    what: "unpack \(deb)"
                )
                guard result.succeeded else {
                    throw LabError(
                        "cannot unpack \(debsDirectory)/\(deb): dpkg-deb -x said: \(result.stderr.trimmed). "
                            + "Delete that file and try again (a cut-off download?)."
                    )
                }
                _ = FileManager.default.createFile(atPath: marker, contents: Data())
            }
            trees.append(tree)
        }
        return trees
    }

    /// The newest cached `.deb` of a package, by file name.
    func debFile(for name: String) -> String? {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: debsDirectory)) ?? []
        return files.filter { $0.hasPrefix(name + "_") && $0.hasSuffix(".deb") }.sorted().last
    }

    /// apt's own error lines (`E: ...`), or its whole stderr.
    static func aptMessage(_ result: CommandResult) -> String {
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("E: ") }
        let text = errors.isEmpty ? result.stderr.trimmed : errors.joined(separator: "; ")
        return result.timedOut ? text + " (killed at its time limit)" : text
    }

    private func runCommand(_ argv: [String], timeout: PlanDuration, what: String) async throws -> CommandResult {
        do { return try await runner.run(argv, timeout: timeout) } catch let error as CommandNotStarted {
            throw LabError("cannot \(what): \(error.reason). Install it: apt-get install -y apt dpkg")
        }
    }
}

/// One unpacked package: its files under `root`, laid out as they would be installed.
public struct PackageTree: Sendable, Hashable {
    /// The package name (`xen-utils-4.17`).
    public var name: String
    /// The `.deb` file name, with the version (`xen-utils-4.17_4.17.5-1_amd64.deb`).
    public var file: String
    /// Where its files are.
    public var root: String

    /// The host path of `path` (absolute, as installed) inside this tree, following symbolic links the way they
    /// would resolve once installed: an absolute link target points into the tree, never at the host.
    public func resolve(_ path: String) -> String? {
        var components = path.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var hops = 0
        while !components.isEmpty {
            let component = components.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = root + "/" + (resolved + [component]).joined(separator: "/")
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate) {
                hops += 1
                if hops > 40 { return nil }
                let targetComponents = target.split(separator: "/").map(String.init)
                if target.hasPrefix("/") { resolved = [] }
                components = targetComponents + components
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) else { return nil }
            if !components.isEmpty && !isDirectory.boolValue { return nil }
            resolved.append(component)
        }
        return root + "/" + resolved.joined(separator: "/")
    }

    /// Whether `path` exists in this tree (after links).
    public func contains(_ path: String) -> Bool { resolve(path) != nil }
}

/// Where xentest keeps what it downloads and builds: `$XDG_CACHE_HOME/xentest` or `~/.cache/xentest`.
public enum XentestCache {
    /// `$XDG_CACHE_HOME/xentest` when that is an absolute path, else `.cache/xentest` in `$HOME` (or the user's home
    /// folder when `HOME` is unset or empty).
    public static var directory: String {
        let environment = ProcessInfo.processInfo.environment
        if let base = environment["XDG_CACHE_HOME"], base.hasPrefix("/") { return base + "/xentest" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/xentest"
    }
}
