import Foundation
import Yams
import XentestSupport

/// Loads a plan file (and the files it includes) into a validated `Plan`, reporting every problem at once.
public struct PlanLoader: Sendable {
    /// Creates a loader.
    public init() {}

    /// Loads and validates the plan at `path`.
    ///
    /// Throws `DiagnosticsError` with every problem found when there is at least one error; warnings alone do
    /// not stop loading and are returned with the plan.
    public func load(path: String) throws(DiagnosticsError) -> (plan: Plan, warnings: [Diagnostic]) {
        var session = LoadSession()
        let plan = session.loadPlan(path: path, source: nil)
        let diagnostics = session.diagnostics.sortedBySource()
        guard let plan, !diagnostics.hasErrors else { throw DiagnosticsError(diagnostics) }
        return (plan, diagnostics)
    }

    /// Loads plan text as if it were the file at `path`, reading no file: each include is an error.
    ///
    /// For the fuzz targets (benchmarks/fuzz.sh), whose input must not name files for the loader to read.
    package func load(text: Data, path: String) throws(DiagnosticsError) -> (plan: Plan, warnings: [Diagnostic]) {
        var session = LoadSession()
        session.readsIncludes = false
        let plan = session.loadPlan(path: path, source: text)
        let diagnostics = session.diagnostics.sortedBySource()
        guard let plan, !diagnostics.hasErrors else { throw DiagnosticsError(diagnostics) }
        return (plan, diagnostics)
    }

    /// Loads a plan by bare name (`rc6`) or path; a name that resolves to nothing is a diagnostic like any other.
    public func load(nameOrPath: String) throws(DiagnosticsError) -> (plan: Plan, warnings: [Diagnostic]) {
        guard let path = Self.resolve(nameOrPath) else {
            let folders = Self.planFolders().map { "\($0)/" }.joined(separator: ", ")
            let available = Self.availablePlans().map(\.name).joined(separator: ", ")
            throw DiagnosticsError([
                .error(
                    "no plan '\(nameOrPath)': give a path, or a name found in \(folders)"
                        + (available.isEmpty ? "" : " (available: \(available))"),
                    at: SourceLocation(file: nameOrPath)
                )
            ])
        }
        return try load(path: path)
    }

    /// Resolves what a user typed: a path to an existing file, or a bare name looked up in the plan folders.
    ///
    /// Bare names (`rc6`) are looked up as `NAME.yaml` in `$XENTEST_PLANS`, `./testplans`, the installed plans
    /// (`../share/xentest/testplans` beside the binary's folder: `/usr/share/xentest/testplans` for
    /// `/usr/bin/xentest`), and the `testplans` folder of the source checkout this binary was built from, in that
    /// order.
    public static func resolve(_ nameOrPath: String) -> String? {
        let fileManager = FileManager.default
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") {
            return fileManager.fileExists(atPath: nameOrPath) ? nameOrPath : nil
        }
        for folder in planFolders() {
            let candidate = folder + "/" + nameOrPath + ".yaml"
            if fileManager.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// What a tester types to name `plan`: its bare name when that finds this very file, otherwise its path (a plan
    /// outside the plan folders, or one a plan of the same name in an earlier folder hides).
    public static func commandLineName(of plan: Plan) -> String {
        func canonical(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
        guard let found = resolve(plan.name), canonical(found) == canonical(plan.path) else { return plan.path }
        return plan.name
    }

    /// The folders bare plan names are looked up in, in order.
    public static func planFolders() -> [String] {
        var folders: [String] = []
        if let fromEnvironment = ProcessInfo.processInfo.environment["XENTEST_PLANS"], !fromEnvironment.isEmpty {
            folders.append(fromEnvironment)
        }
        folders.append("testplans")
        // Installed (the Debian package): /usr/bin/xentest finds /usr/share/xentest/testplans.
        // The running binary (/proc/self/exe: argv[0] is a bare name when it was found on PATH).
        let executablePath =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments
            .first ?? ""
        let executable = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath()
        let installed = executable.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/xentest/testplans").path
        if FileManager.default.fileExists(atPath: installed) { folders.append(installed) }
        // Sources/XentestPlan/PlanLoader.swift in the checkout this binary was built from.
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        folders.append(checkout.appendingPathComponent("testplans").path)
        return folders
    }

    /// The plans in the plan folders, by name, each found once (earlier folders win).
    public static func availablePlans() -> [(name: String, path: String)] {
        var found: [String: String] = [:]
        for folder in planFolders().reversed() {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for file in files where file.hasSuffix(".yaml") { found[String(file.dropLast(5))] = folder + "/" + file }
        }
        return found.keys.sorted().map { ($0, found[$0]!) }
    }
}

/// Keys and defaults of the plan language, in one place for the loader and for documentation tests.
package enum PlanSyntax {
    static let planKeys = ["release", "title", "summary", "host-health", "include", "guests", "cases"]
    static let includedFileKeys = ["include", "guests", "cases"]
    static let caseKeys = [
        "id", "title", "area", "tags", "description", "requires", "backends", "guest", "guests", "for-each", "steps",
        "known-issue", "host-log-lacks", "timeout", "exclusive",
    ]
    static let guestKeys = [
        "type", "memory", "vcpus", "maxvcpus", "nics", "pci", "passthrough", "disks", "cdrom", "xl-config",
    ]
    static let stepOptionKeys = ["expect", "timeout", "retry-for", "note", "on"]
    static let knownIssueKeys = ["summary", "link", "xen", "backends", "drivers", "failure-matches"]
    /// The action names, as plans write them.
    static let actions = ActionName.allCases.map(\.rawValue)
    static let simpleRequirements = ["iommu", "hvm", "pvh", "bridge", "test-guest", "shadow-paging"]
    static let valuedRequirements = [
        "min-free-memory", "min-host-cpus", "xen", "pci-device", "large-bar-device", "disk-format", "host-guest",
        "host-guest-address",
    ]
    static let expectationKeys = [
        "fails-matching", "state", "online-vcpus", "contains", "lacks", "count", "equals", "exit-status",
        "output-matches", "memory", "affinity",
    ]
    /// The most times one `migrate` step migrates the guest.
    static let maximumMigrations = 100
    static let defaultCaseTimeout = PlanDuration.seconds(600)
    static let maximumVcpus = 512
    /// The most disks a guest has at once (from the start and attached): xvda to xvdp.
    static let maximumDisks = 16

    package static func defaultTimeout(for action: Action) -> PlanDuration {
        switch action {
        case .create, .shutdown, .waitForState: .seconds(120)
        case .save, .restore, .reboot: .seconds(180)
        case .migrate(let times): .seconds(180 * times)
        case .waitForConsole: .seconds(300)
        case .stayUp(let duration): PlanDuration(milliseconds: duration.milliseconds + 60_000)
        case .ping, .guestExec, .memSet, .blockAttach, .blockDetach, .blockList, .cdInsert, .cdEject: .seconds(60)
        default: .seconds(30)
        }
    }
}

/// The state of one load: readers per file, the guests and case ids seen so far.
private struct LoadSession {
    var readers: [YAMLReader] = []
    var extraDiagnostics: [Diagnostic] = []
    var guestNodes: [String: (reader: YAMLReader, keyNode: Node, value: Node)] = [:]
    var caseNodes: [(reader: YAMLReader, node: Node)] = []
    var visitedFiles: Set<String> = []
    /// Where each included file was first included, for the message when it is included again.
    var firstIncludedAt: [String: SourceLocation] = [:]
    /// The files being read, outermost first: the plan, then each include inside the one before it, as written.
    var includeChain: [(canonical: String, written: String)] = []
    /// While collecting a filtered include: the case ids to keep, and those found so far.
    var caseFilter: Set<String>?
    var foundFilteredIDs: Set<String> = []
    /// Includes reported as not read (missing, a cycle, twice).
    var includesNotRead = 0
    /// False when loading text given in memory: an include is then reported, not read.
    var readsIncludes = true

    var diagnostics: [Diagnostic] { extraDiagnostics + readers.flatMap(\.diagnostics) }

    /// Loads the plan at `path`, or `text` in its name when given.
    mutating func loadPlan(path: String, source text: Data?) -> Plan? {
        var fileDiagnostics: [Diagnostic] = []
        let source =
            text.map { YAMLSource.parse($0, file: path, diagnostics: &fileDiagnostics) }
            ?? YAMLSource.load(path: path, diagnostics: &fileDiagnostics)
        extraDiagnostics += fileDiagnostics
        visitedFiles.insert(URL(fileURLWithPath: path).standardizedFileURL.path)
        includeChain = [(URL(fileURLWithPath: path).standardizedFileURL.path, path)]
        let reader = YAMLReader(file: path)
        readers.append(reader)
        guard let root = source.root, !reader.isNull(root) else {  // "---" alone is an empty document too
            if fileDiagnostics.isEmpty {
                extraDiagnostics.append(
                    .error("the plan is empty; it needs at least 'release', 'title' and 'cases'", at: .init(file: path))
                )
            }
            return nil
        }
        if let hostFileKeys = Self.hostFileKeys(root) {
            reader.error(
                "this is a host file (it has " + hostFileKeys.prefix(2).map { "'\($0)'" }.joined(separator: ", ")
                    + (hostFileKeys.count > 2 ? ", ...), not a plan: " : "), not a plan: ")
                    + "give it with --host-config, as in 'xentest run PLAN --host-config \(path)'",
                at: root
            )
            return nil
        }
        guard
            let fields = reader.mapping(root, "the plan", allowed: PlanSyntax.planKeys, required: ["release", "title"])
        else { return nil }
        let release = fields["release"].flatMap { reader.string($0, "release") }
        let title = fields["title"].flatMap { reader.string($0, "title") }
        let summary = fields["summary"].flatMap { reader.string($0, "summary") }
        let hostHealth: HostHealthRules? =
            fields["host-health"].map { parseHostHealth($0, reader: reader) } ?? HostHealthRules()
        collect(fields, reader: reader, directory: directory(of: path))

        let guests = parseGuests()
        var cases: [TestCase] = []
        var firstSeen: [String: SourceLocation] = [:]
        for (caseReader, node) in caseNodes {
            // Duplicates are found from the raw id, so that a duplicate with other errors is reported too.
            if let id = Self.peekID(node) {
                if let earlier = firstSeen[id] {
                    caseReader.error("duplicate case id '\(id)'; first defined at \(earlier)", at: node)
                    _ = parseCases(node, reader: caseReader, guests: guests)  // for its own problems
                    continue
                }
                firstSeen[id] = caseReader.location(of: node)
            }
            cases += parseCases(node, reader: caseReader, guests: guests) ?? []
        }
        // A `cases:` that is not a list has been reported already, and so has an include that could not be read
        // (its cases may be all the plan has); an empty list, or none, is reported here.
        let casesIsNotAList = fields["cases"].map { if case .sequence = $0 { false } else { true } } ?? false
        if caseNodes.isEmpty, !casesIsNotAList, includesNotRead == 0 {
            reader.error("the plan has no cases; add a 'cases:' list", at: root)
        }
        guard let release, let title, let hostHealth else { return nil }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        var plan = Plan(name: name, path: path, release: release, title: title, summary: summary, cases: cases)
        plan.hostHealth = hostHealth
        return plan
    }

    /// The host file keys of a file that has them and no plan key: a host file given where a plan goes.
    static func hostFileKeys(_ root: Node) -> [String]? {
        guard case .mapping(let mapping) = root else { return nil }
        let keys = Array(mapping.keys.compactMap(\.string))
        guard !keys.contains(where: PlanSyntax.planKeys.contains) else { return nil }
        let hostKeys = keys.filter { HostConfig.keys.contains($0) }
        return hostKeys.isEmpty ? nil : hostKeys
    }

    private func directory(of path: String) -> String { URL(fileURLWithPath: path).deletingLastPathComponent().path }

    /// Gathers guest and case nodes of a file and, recursively, of the files it includes.
    mutating func collect(_ fields: Fields, reader: YAMLReader, directory: String) {
        if let guests = fields["guests"] {
            for entry in reader.namedEntries(guests, "guests") {
                guard YAMLReader.isName(entry.name) else {
                    reader.error("guest name '\(entry.name)' is not a valid name", at: entry.keyNode)
                    continue
                }
                if let earlier = guestNodes[entry.name] {
                    reader.error(
                        "duplicate guest '\(entry.name)'; first defined at \(earlier.reader.location(of: earlier.keyNode))",
                        at: entry.keyNode
                    )
                    continue
                }
                guestNodes[entry.name] = (reader, entry.keyNode, entry.value)
            }
        }
        if let cases = fields["cases"], let items = reader.sequence(cases, "cases") {
            for item in items {
                if let only = caseFilter {
                    guard let id = Self.peekID(item), only.contains(id) else { continue }
                    foundFilteredIDs.insert(id)
                }
                caseNodes.append((reader, item))
            }
        }
        if let include = fields["include"], let items = reader.sequence(include, "include") {
            for item in items { includeFile(item, reader: reader, directory: directory, inheritedFilter: caseFilter) }
        }
    }

    /// An include item: a path, or `{file: PATH, cases: [ID, ...]}` to take only some of its cases.
    private mutating func includeFile(
        _ item: Node,
        reader: YAMLReader,
        directory: String,
        inheritedFilter: Set<String>?
    ) {
        var fileNode = item
        var filter = inheritedFilter
        var filterNodes: [(id: String, node: Node)] = []
        if case .mapping = item {
            guard let fields = reader.mapping(item, "an include", allowed: ["file", "cases"], required: ["file"]),
                let node = fields["file"]
            else { return }
            fileNode = node
            if let casesNode = fields["cases"], let ids = reader.sequence(casesNode, "cases") {
                filterNodes = ids.compactMap { idNode in reader.name(idNode, "case id").map { ($0, idNode) } }
                // A filter inside a filtered include narrows it; it never widens what the outer include took.
                let ids = Set(filterNodes.map(\.id))
                filter = inheritedFilter.map { $0.intersection(ids) } ?? ids
            }
        }
        guard let relative = reader.string(fileNode, "an include") else { return }
        let path = relative.hasPrefix("/") ? relative : directory + "/" + relative
        let canonical = URL(fileURLWithPath: path).standardizedFileURL.path
        if let start = includeChain.firstIndex(where: { $0.canonical == canonical }) {
            let chain = includeChain[start...].map(\.written) + [relative]
            let message =
                chain.count == 2
                ? "\(chain[0]) includes itself ('\(relative)')"
                : "include cycle: \(chain[0]) includes " + chain.dropFirst().joined(separator: ", which includes ")
            reader.error(message, at: fileNode)
            includesNotRead += 1
            return
        }
        guard !visitedFiles.contains(canonical) else {
            let first = firstIncludedAt[canonical].map { " (first at \($0))" } ?? ""
            reader.error("'\(relative)' is included more than once\(first); include a file once", at: fileNode)
            includesNotRead += 1
            return
        }
        guard readsIncludes else {
            reader.error("includes are not read when a plan is loaded from text ('\(relative)')", at: fileNode)
            includesNotRead += 1
            return
        }
        guard FileManager.default.fileExists(atPath: path) else {
            reader.error("included file '\(relative)' does not exist (looked for \(path))", at: fileNode)
            includesNotRead += 1
            return
        }
        visitedFiles.insert(canonical)
        firstIncludedAt[canonical] = reader.location(of: fileNode)
        var fileDiagnostics: [Diagnostic] = []
        let source = YAMLSource.load(path: path, diagnostics: &fileDiagnostics)
        extraDiagnostics += fileDiagnostics
        let included = YAMLReader(file: path)
        readers.append(included)
        guard let root = source.root, !included.isNull(root) else {
            // An included file that says nothing is a mistake (a wrong path, a file not yet written), not a no-op.
            if fileDiagnostics.isEmpty {
                reader.error(
                    "included file '\(relative)' is empty; it needs 'guests', 'cases' or 'include'",
                    at: fileNode
                )
            }
            return
        }
        guard let includedFields = included.mapping(root, "an included file", allowed: PlanSyntax.includedFileKeys)
        else { return }
        let outerFound = foundFilteredIDs
        foundFilteredIDs = []
        caseFilter = filter
        includeChain.append((canonical, relative))
        collect(includedFields, reader: included, directory: self.directory(of: path))
        includeChain.removeLast()
        caseFilter = inheritedFilter
        // An id the enclosing filter leaves out is not missing: that include narrowed this one.
        for (id, node) in filterNodes where !foundFilteredIDs.contains(id) && inheritedFilter?.contains(id) ?? true {
            reader.error("'\(relative)' has no case '\(id)'", at: node)
        }
        foundFilteredIDs.formUnion(outerFound)
    }

    /// A step's action name read without checking anything; nil unless it has exactly one.
    static func peekAction(_ node: Node) -> ActionName? {
        guard case .mapping(let mapping) = node else { return nil }
        let names = mapping.compactMap { key, _ in key.string.flatMap(ActionName.init(rawValue:)) }
        return names.count == 1 ? names[0] : nil
    }

    /// A step's `on:` guest read without checking anything.
    static func peekGuest(_ node: Node) -> String? {
        guard case .mapping(let mapping) = node else { return nil }
        for (key, value) in mapping where key.string == "on" { return value.string }
        return nil
    }

    /// The `failure-matches` patterns of a case's `known-issue` (one, or a list), read without checking anything.
    static func failurePatterns(_ knownIssue: Node?) -> [(node: Node, pattern: String)] {
        let issues: [Node] =
            switch knownIssue {
            case .sequence(let items): Array(items)
            case .some(let issue): [issue]
            case .none: []
            }
        return issues.flatMap { issue -> [(node: Node, pattern: String)] in
            guard case .mapping(let mapping) = issue else { return [] }
            return mapping.compactMap { key, value in
                key.string == "failure-matches" ? value.string.map { (value, $0) } : nil
            }
        }
    }

    /// A case's id read without checking anything, to filter includes before cases are parsed.
    static func peekID(_ node: Node) -> String? {
        guard case .mapping(let mapping) = node else { return nil }
        for (key, value) in mapping where key.string == "id" { return value.string }
        return nil
    }

    func parseGuests() -> [String: GuestSpec] {
        var guests: [String: GuestSpec] = [:]
        for (name, entry) in guestNodes {
            if let guest = parseGuest(entry.value, name: name, reader: entry.reader) { guests[name] = guest }
        }
        return guests
    }

    func parseGuest(_ node: Node, name: String, reader: YAMLReader) -> GuestSpec? {
        if case .mapping(let mapping) = node, mapping.keys.contains(where: { $0.string == "from-host" }) {
            return parseHostGuest(node, name: name, reader: reader)
        }
        guard let fields = reader.mapping(node, "guest '\(name)'", allowed: PlanSyntax.guestKeys, required: ["type"])
        else { return nil }
        let type = fields["type"].flatMap { reader.word($0, "guest type", as: GuestType.self) }
        let memory =
            fields["memory"].map { reader.parsed($0, "memory", MemorySize.parse) } ?? MemorySize(mebibytes: 256)
        let vcpus = fields["vcpus"].map { reader.int($0, "vcpus", in: 1...PlanSyntax.maximumVcpus) } ?? 1
        let maxvcpus = fields["maxvcpus"].map { reader.int($0, "maxvcpus", in: 1...PlanSyntax.maximumVcpus) } ?? vcpus
        let nics = fields["nics"].map { reader.int($0, "nics", in: 0...8) } ?? 0
        let pci = fields["pci"].map { reader.names($0, "pci") } ?? []
        let passthrough = fields["passthrough"].map { reader.bool($0, "passthrough") } ?? false
        let disks = fields["disks"].map { parseDisks($0, reader: reader) } ?? []
        let cdrom = fields["cdrom"].map { reader.parsed($0, "medium size", MemorySize.parse) }
        if let type, type != .hvm, let node = fields["cdrom"] {
            reader.error(
                "cdrom: an emulated CD-ROM drive is an HVM guest's, and guest '\(name)' is \(type.rawValue)",
                at: node
            )
            return nil
        }
        let xlConfig = fields["xl-config"].map { reader.xlConfig($0) } ?? []
        if let vcpus, let maxvcpus, vcpus > maxvcpus, let node = fields["vcpus"] {
            reader.error("vcpus (\(vcpus)) must not be more than maxvcpus (\(maxvcpus))", at: node)
            return nil
        }
        guard let type, let memory, let vcpus, let maxvcpus, let nics, let pci, let passthrough, let disks, let xlConfig
        else { return nil }
        var guest = GuestSpec(
            name: name,
            type: type,
            memory: memory,
            vcpus: vcpus,
            maxvcpus: maxvcpus,
            nics: nics,
            pci: pci,
            passthrough: passthrough || !pci.isEmpty,
            disks: disks
        )
        guest.xlConfig = xlConfig
        if case .some(.some(let size)) = cdrom { guest.cdrom = size } else if cdrom != nil { return nil }
        return guest
    }

    /// `{from-host: ROLE}`: a copy of the tester's own guest the host file names for ROLE. Its config says what it
    /// is, so nothing else may be set here.
    func parseHostGuest(_ node: Node, name: String, reader: YAMLReader) -> GuestSpec? {
        guard let fields = reader.mapping(node, "guest '\(name)'", allowed: ["from-host"] + PlanSyntax.guestKeys),
            let roleNode = fields["from-host"]
        else { return nil }
        var ok = true
        for entry in fields.entries where entry.key != "from-host" {
            reader.error(
                "'\(entry.key)' cannot be set for guest '\(name)': it is the host file's own guest, as its config "
                    + "describes it",
                at: entry.keyNode
            )
            ok = false
        }
        guard let role = reader.name(roleNode, "from-host role"), ok else { return nil }
        var guest = GuestSpec(name: name, type: .pv)
        guest.fromHost = role
        return guest
    }

    /// `disks: [64M, {size: 1G, format: qcow2}]`: at most `maximumDisks`.
    func parseDisks(_ node: Node, reader: YAMLReader) -> [DiskSpec]? {
        guard let items = reader.sequence(node, "disks") else { return nil }
        if items.count > PlanSyntax.maximumDisks {
            reader.error(
                "a guest has at most \(PlanSyntax.maximumDisks) disks; this one lists \(items.count)",
                at: node
            )
            return nil
        }
        let disks = items.map { parseDisk($0, "a disk", reader: reader) }
        return disks.contains { $0 == nil } ? nil : disks.compactMap { $0 }
    }

    /// A disk as `disks:` and `block-attach` write it: a size (`64M`, a raw image), or `{size: SIZE, format: raw|qcow2}`.
    func parseDisk(_ node: Node, _ what: String, reader: YAMLReader) -> DiskSpec? {
        guard case .mapping = node else {
            return reader.parsed(node, "disk size", MemorySize.parse).map { DiskSpec(size: $0) }
        }
        guard let fields = reader.mapping(node, what, allowed: ["size", "format"], required: ["size"]),
            let sizeNode = fields["size"]
        else { return nil }
        let size = reader.parsed(sizeNode, "disk size", MemorySize.parse)
        let format = fields["format"].map { reader.word($0, "disk format", as: DiskFormat.self) } ?? .raw
        guard let size, let format else { return nil }
        return DiskSpec(size: size, format: format)
    }

    /// `host-health: {benign-log: [REGEX], ignore: [REGEX]}`.
    func parseHostHealth(_ node: Node, reader: YAMLReader) -> HostHealthRules? {
        guard let fields = reader.mapping(node, "host-health", allowed: ["benign-log", "ignore"]) else { return nil }
        let benignLog = fields["benign-log"].map { patternList($0, "benign-log", reader: reader) } ?? []
        let ignore = fields["ignore"].map { patternList($0, "ignore", reader: reader) } ?? []
        guard let benignLog, let ignore else { return nil }
        var rules = HostHealthRules()
        rules.benignLog = benignLog
        rules.ignore = ignore
        return rules
    }

    /// One regex, or a list of them; nil when any is not valid (each reported).
    func patternList(_ node: Node, _ what: String, reader: YAMLReader) -> [PlanPattern]? {
        if case .scalar = node { return regex(node, reader: reader).map { [$0] } }
        guard let items = reader.sequence(node, what) else { return nil }
        let parsed = items.map { regex($0, reader: reader) }
        return parsed.contains { $0 == nil } ? nil : parsed.compactMap { $0 }
    }

    /// One case, or with `for-each: {type: [...]}` one per guest type (`ID.TYPE`), each with its own prerequisites.
    func parseCases(_ node: Node, reader: YAMLReader, guests: [String: GuestSpec]) -> [TestCase]? {
        guard
            let fields = reader.mapping(
                node,
                "a case",
                allowed: PlanSyntax.caseKeys,
                required: ["id", "title", "area", "steps"]
            )
        else { return nil }
        let id = fields["id"].flatMap { reader.name($0, "case id") }
        let what = id.map { "case '\($0)'" } ?? "this case"
        let title = fields["title"].flatMap { reader.string($0, "title") }
        let area = fields["area"].flatMap { reader.name($0, "area") }
        let tags = fields["tags"].map { reader.names($0, "tags") } ?? []
        let description = fields["description"].flatMap { reader.string($0, "description") }
        let explicitRequirements = fields["requires"].map { parseRequirements($0, reader: reader) } ?? []
        var backends: [BackendKind]? = BackendKind.allCases
        if let node = fields["backends"] {
            backends = parseBackends(node, reader: reader)
            if backends?.isEmpty == true { reader.error("backends must name at least one of xl, libvirt", at: node) }
        }
        var caseGuests: [GuestSpec]? = []
        if let node = fields["guest"] {
            caseGuests = parseCaseGuest(node, reader: reader, guests: guests).map { [$0] }
            if let other = fields["guests"] {
                reader.error("a case has either 'guest' or 'guests'; this one has both", at: other)
                caseGuests = nil
            }
        } else if let node = fields["guests"] {
            caseGuests = parseCaseGuests(node, reader: reader, guests: guests)
        }
        var guestTypes: [GuestType]?? = .some(nil)
        if let node = fields["for-each"] {
            guestTypes = parseForEach(node, reader: reader).map(Optional.some)
            if fields["guest"] == nil && fields["guests"] == nil {
                reader.error("for-each varies the case's guest, and \(what) has no 'guest'", at: node)
                guestTypes = .none
            } else if let role = caseGuests?.lazy.compactMap(\.fromHost).first {
                reader.error(
                    "for-each varies the guest's type, and the host file's guest '\(role)' has the type its config gives",
                    at: node
                )
                guestTypes = .none
            } else if let guest = caseGuests?.first(where: { $0.cdrom != nil }),
                let types = guestTypes??.filter({ $0 != .hvm }), !types.isEmpty
            {
                reader.error(
                    "for-each varies the guest's type, and guest '\(guest.name)' has a cdrom, which only HVM guests "
                        + "have: not \(types.map(\.rawValue).joined(separator: ", "))",
                    at: node
                )
                guestTypes = .none
            }
        }
        let knownIssues = fields["known-issue"].map { parseKnownIssues($0, reader: reader) } ?? []
        let hostLogLacks = fields["host-log-lacks"].map { patternList($0, "host-log-lacks", reader: reader) } ?? []
        let exclusive = fields["exclusive"].map { reader.bool($0, "exclusive") } ?? false
        let timeout =
            fields["timeout"].map { reader.parsed($0, "timeout", PlanDuration.parse) } ?? PlanSyntax.defaultCaseTimeout
        var steps: [Step]?
        if let stepsNode = fields["steps"] {
            if let caseGuests {
                steps = parseSteps(stepsNode, reader: reader, guests: caseGuests, what: what)
            } else {
                // The guest had errors, already reported: still report the steps' own problems.
                _ = parseSteps(stepsNode, reader: reader, guests: [], guestHasErrors: true, what: what)
            }
        }
        guard let id, let title, let area, let tags, let explicitRequirements, let backends, let caseGuests,
            case .some(let guestTypes) = guestTypes, let steps, let timeout
        else { return nil }
        guard let knownIssues, let hostLogLacks, let exclusive else { return nil }
        for (patternNode, pattern) in Self.failurePatterns(fields["known-issue"]) {
            for problem in FailurePatternCheck.problems(pattern, steps: steps) {
                reader.warning(problem, at: patternNode)
            }
        }
        let stepTotal = steps.reduce(0) { $0 + $1.timeout.milliseconds }
        if let node = fields["timeout"], stepTotal > timeout.milliseconds {
            reader.warning(
                "the steps' timeouts add up to \(PlanDuration(milliseconds: stepTotal)), more than the case's \(timeout)",
                at: node
            )
        }
        var testCase = TestCase(
            id: id,
            title: title,
            area: area,
            tags: tags,
            description: description,
            requirements: implied(explicitRequirements, guests: caseGuests, steps: steps),
            backends: backends.sorted(),
            guests: caseGuests,
            steps: steps,
            knownIssues: knownIssues,
            timeout: timeout,
            location: reader.location(of: node)
        )
        testCase.hostLogLacks = hostLogLacks
        testCase.exclusive = exclusive
        guard let guestTypes, !caseGuests.isEmpty else { return [testCase] }
        return guestTypes.map { type in
            var variant = testCase
            variant.id = "\(id).\(type.rawValue)"
            variant.title = "\(title) (\(type.rawValue.uppercased()))"
            variant.guests = caseGuests.map { guest in
                var typed = guest
                typed.type = type
                return typed
            }
            variant.requirements = implied(explicitRequirements, guests: variant.guests, steps: steps)
            return variant
        }
    }

    /// `guests: [a, b]`: guests from `guests:` by name, at least two, each once.
    func parseCaseGuests(_ node: Node, reader: YAMLReader, guests: [String: GuestSpec]) -> [GuestSpec]? {
        guard let items = reader.sequence(node, "guests") else { return nil }
        var named: [GuestSpec] = []
        var ok = true
        for item in items {
            guard case .scalar = item else {
                reader.error(
                    "guests lists guests defined under 'guests:' by name; write an inline guest with 'guest:'",
                    at: item
                )
                ok = false
                continue
            }
            guard let guest = parseCaseGuest(item, reader: reader, guests: guests) else {
                ok = false
                continue
            }
            if named.contains(where: { $0.name == guest.name }) {
                reader.error("guest '\(guest.name)' is listed twice in guests", at: item)
                ok = false
            }
            named.append(guest)
        }
        if ok, named.count < 2 {
            reader.error("guests lists two guests or more; for one, write 'guest: NAME'", at: node)
            ok = false
        }
        return ok ? named : nil
    }

    /// `for-each: {type: [pv, pvh, hvm]}`: the guest types to run the case with, each once.
    func parseForEach(_ node: Node, reader: YAMLReader) -> [GuestType]? {
        guard let fields = reader.mapping(node, "for-each", allowed: ["type"], required: ["type"]),
            let typesNode = fields["type"], let items = reader.sequence(typesNode, "for-each type")
        else { return nil }
        var types: [GuestType] = []
        var ok = true
        for item in items {
            guard let type = reader.word(item, "guest type", as: GuestType.self) else {
                ok = false
                continue
            }
            if types.contains(type) {
                reader.error("guest type '\(type.rawValue)' is listed twice in for-each", at: item)
                ok = false
            }
            types.append(type)
        }
        if items.isEmpty {
            reader.error("for-each type lists no guest types; write for example [pv, pvh, hvm]", at: typesNode)
            ok = false
        }
        return ok ? types : nil
    }

    /// A guest by name from `guests:`, or written inline.
    func parseCaseGuest(_ node: Node, reader: YAMLReader, guests: [String: GuestSpec]) -> GuestSpec? {
        if case .mapping = node { return parseGuest(node, name: "inline", reader: reader) }
        guard let name = reader.string(node, "guest") else { return nil }
        if let guest = guests[name] { return guest }
        if guestNodes[name] != nil { return nil }  // defined, but had its own errors
        var message = "unknown guest '\(name)'"
        if let suggestion = closestMatch(to: name, in: Array(guestNodes.keys)) {
            message += "; did you mean '\(suggestion)'?"
        } else if guestNodes.isEmpty {
            message += "; define it under 'guests:' or write the guest inline"
        } else {
            message += "; defined guests: \(guestNodes.keys.sorted().joined(separator: ", "))"
        }
        reader.error(message, at: node)
        return nil
    }

    func parseBackends(_ node: Node, reader: YAMLReader) -> [BackendKind]? {
        let items: [Node]
        if case .scalar = node {
            items = [node]
        } else if let list = reader.sequence(node, "backends") {
            items = list
        } else {
            return nil
        }
        let parsed = items.map { reader.word($0, "backend", as: BackendKind.self) }
        guard parsed.allSatisfy({ $0 != nil }) else { return nil }
        return Array(Set(parsed.compactMap { $0 }))
    }

    func parseRequirements(_ node: Node, reader: YAMLReader) -> [Requirement]? {
        guard let items = reader.sequence(node, "requires") else { return nil }
        var requirements: [Requirement] = []
        var ok = true
        for item in items {
            // `{iommu: true}`: a requirement that takes no value, written as a key.
            if case .mapping(let mapping) = item, mapping.count == 1, let key = mapping.keys.first?.string,
                PlanSyntax.simpleRequirements.contains(key), let keyNode = mapping.keys.first
            {
                reader.error(
                    "requirement '\(key)' takes no value: list it as a word, 'requires: [\(key)]'",
                    at: keyNode
                )
                ok = false
                continue
            }
            if case .mapping = item {
                guard let fields = reader.mapping(item, "a requirement", allowed: PlanSyntax.valuedRequirements),
                    fields.entries.count == 1, let entry = fields.entries.first
                else {
                    if case .mapping(let mapping) = item, mapping.count != 1 {
                        reader.error("write one requirement per list item", at: item)
                    }
                    ok = false
                    continue
                }
                let requirement: Requirement? =
                    switch entry.key {
                    case "min-free-memory":
                        reader.parsed(entry.value, "min-free-memory", MemorySize.parse).map { .minFreeMemory($0) }
                    case "min-host-cpus":
                        reader.int(entry.value, "min-host-cpus", in: 1...4096).map { .minHostCPUs($0) }
                    case "xen": reader.parsed(entry.value, "xen", VersionRange.parse).map { .xenVersion($0) }
                    case "pci-device": reader.name(entry.value, "pci-device role").map { .pciDevice(role: $0) }
                    case "host-guest": reader.name(entry.value, "host-guest role").map { .hostGuest(role: $0) }
                    case "host-guest-address":
                        reader.name(entry.value, "host-guest-address role").map { .hostGuestAddress(role: $0) }
                    case "disk-format":
                        reader.word(entry.value, "disk format", as: DiskFormat.self).map { .diskFormat($0) }
                    default: reader.name(entry.value, "large-bar-device role").map { .largeBarDevice(role: $0) }
                    }
                if let requirement { requirements.append(requirement) } else { ok = false }
                continue
            }
            guard let word = reader.string(item, "a requirement") else {
                ok = false
                continue
            }
            switch word {
            case "iommu": requirements.append(.iommu)
            case "hvm": requirements.append(.hvm)
            case "pvh": requirements.append(.pvh)
            case "bridge": requirements.append(.bridge)
            case "test-guest": requirements.append(.testGuest)
            case "shadow-paging": requirements.append(.shadowPaging)
            default:
                ok = false
                let all = PlanSyntax.simpleRequirements + PlanSyntax.valuedRequirements
                var message = "unknown requirement '\(word)'"
                if PlanSyntax.valuedRequirements.contains(word) {
                    message = "requirement '\(word)' needs a value: write '\(word): VALUE'"
                } else if let suggestion = closestMatch(to: word, in: all) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += "; known: \(all.joined(separator: ", "))"
                }
                reader.error(message, at: item)
            }
        }
        return ok ? requirements : nil
    }

    /// A driver or a list of them; nil when any is not a driver (each reported, with the closest driver).
    func parseDrivers(_ node: Node, reader: YAMLReader) -> [HypervisorDriver]? {
        let items: [Node]
        if case .scalar = node {
            items = [node]
        } else if let list = reader.sequence(node, "drivers") {
            items = list
        } else {
            return nil
        }
        let known = HypervisorDriver.allCases.map(\.rawValue)
        let parsed = items.map { item -> HypervisorDriver? in
            guard let word = reader.string(item, "a driver") else { return nil }
            if let driver = HypervisorDriver(rawValue: word) { return driver }
            var message = "unknown driver '\(word)'"
            if let suggestion = closestMatch(to: word, in: known) { message += "; did you mean '\(suggestion)'?" }
            reader.error(message + " (drivers: \(known.joined(separator: ", ")))", at: item)
            return nil
        }
        guard parsed.allSatisfy({ $0 != nil }) else { return nil }
        var unique: [HypervisorDriver] = []
        for driver in parsed.compactMap({ $0 }) where !unique.contains(driver) { unique.append(driver) }
        return unique
    }

    /// One known issue, or a list of them; nil when any had errors (already reported).
    func parseKnownIssues(_ node: Node, reader: YAMLReader) -> [KnownIssue]? {
        guard case .sequence(let items) = node else { return parseKnownIssue(node, reader: reader).map { [$0] } }
        let parsed = items.map { parseKnownIssue($0, reader: reader) }
        guard parsed.allSatisfy({ $0 != nil }) else { return nil }
        return parsed.compactMap { $0 }
    }

    /// nil when the known issue had errors (already reported).
    func parseKnownIssue(_ node: Node, reader: YAMLReader) -> KnownIssue? {
        guard
            let fields = reader.mapping(node, "known-issue", allowed: PlanSyntax.knownIssueKeys, required: ["summary"])
        else { return nil }
        let summary = fields["summary"].flatMap { reader.string($0, "summary") }
        let link = fields["link"].flatMap { reader.string($0, "link") }
        let xen = fields["xen"].map { reader.parsed($0, "xen", VersionRange.parse) }
        let backends = fields["backends"].map { parseBackends($0, reader: reader) } ?? []
        let drivers = fields["drivers"].map { parseDrivers($0, reader: reader) } ?? []
        let failureMatches = fields["failure-matches"].map { regex($0, reader: reader) }
        if case .some(.none) = failureMatches { return nil }
        if let link, let node = fields["link"], !(link.hasPrefix("https://") || link.hasPrefix("http://")) {
            reader.error("link must be an http(s) URL, not '\(link)'", at: node)
            return nil
        }
        guard let summary, let backends, let drivers else { return nil }
        if case .some(.none) = xen { return nil }
        return KnownIssue(
            summary: summary,
            link: link,
            xen: xen ?? nil,
            backends: backends.sorted(),
            drivers: drivers,
            failureMatches: failureMatches ?? nil
        )
    }

    /// What the steps so far did to one guest, so that a step can be judged in order.
    struct GuestProgress {
        var created = false
        var everCreated = false
        var saved = false
        var attachedInterfaces = 0
        var attachedDisks = 0
    }

    /// With `guestHasErrors`, the checks that need a guest are left out (its problems are reported already). Each
    /// guest's steps are judged in order on their own: one guest's `create` does not create another.
    func parseSteps(_ node: Node, reader: YAMLReader, guests: [GuestSpec], guestHasErrors: Bool = false, what: String)
        -> [Step]?
    {
        guard let items = reader.sequence(node, "steps") else { return nil }
        if items.isEmpty {
            reader.error("\(what) has no steps", at: node)
            return nil
        }
        var steps: [Step] = []
        var ok = true
        var progress: [String: GuestProgress] = [:]
        /// `the guest`, or with several, `guest 'NAME'`.
        func called(_ name: String) -> String { guests.count > 1 ? "guest '\(name)'" : "the guest" }
        /// A detach takes what the latest attach of its kind added: an error when none is left.
        func detach(_ attached: inout Int, _ action: ActionName, _ attach: ActionName, _ what: String, at item: Node) {
            if attached == 0 {
                reader.error(
                    "\(action) detaches the \(what) the last \(attach) added, and none was added before it",
                    at: item
                )
                ok = false
            }
            attached = max(0, attached - 1)
        }
        for item in items {
            guard let step = parseStep(item, reader: reader, guests: guests) else {
                ok = false
                // A create or destroy with errors still counts, so that the steps after it are not blamed too.
                let name = Self.peekGuest(item) ?? guests.first?.name ?? ""
                switch Self.peekAction(item) {
                case .create, .restore:
                    progress[name, default: GuestProgress()].created = true
                    progress[name, default: GuestProgress()].everCreated = true
                case .destroy, .shutdown: progress[name, default: GuestProgress()].created = false
                case .save:
                    progress[name, default: GuestProgress()].created = false
                    progress[name, default: GuestProgress()].saved = true
                default: break
                }
                continue
            }
            let guest = step.guest.flatMap { name in guests.first { $0.name == name } } ?? guests.first
            let name = guest?.name ?? ""
            var state = progress[name] ?? GuestProgress()
            var outOfOrder = false
            if step.action.actsOnGuest {
                if guest == nil, !guestHasErrors {
                    reader.error("step '\(step.action.name)' acts on a guest, but \(what) has no 'guest'", at: item)
                    ok = false
                    outOfOrder = true
                } else if step.action.needsRunningGuest && !state.created {
                    let hint =
                        state.saved
                        ? "while it is saved; 'restore' it first"
                        : state.everCreated
                            ? "after \(called(name)) was destroyed or shut down" : "before a 'create' step"
                    reader.error("step '\(step.action.name)' acts on \(called(name)) \(hint)", at: item)
                    ok = false
                    outOfOrder = true
                } else if case .create = step.action, state.created || state.saved {
                    let hint =
                        state.saved ? "is saved; 'restore' it" : "is already created; destroy or shut it down first"
                    reader.error("\(called(name)) \(hint)", at: item)
                    ok = false
                    outOfOrder = true
                } else if case .restore = step.action, !state.saved {
                    reader.error("'restore' restores what a 'save' step saved, and no 'save' comes before it", at: item)
                    ok = false
                    outOfOrder = true
                }
            }
            if [.cdInsert, .cdEject].contains(step.action.name), let guest, guest.fromHost != nil || guest.cdrom == nil
            {
                let why =
                    guest.fromHost != nil
                    ? "\(called(name)) is the host file's, and xentest changes media only in the drive it gives its own"
                    : "\(called(name)) has none; give it one with 'cdrom: SIZE' (HVM guests)"
                reader.error("\(step.action.name) changes the medium in a CD-ROM drive, and \(why)", at: item)
                ok = false
            }
            if case .pingGuest(let peer) = step.action, progress[peer]?.created != true, !outOfOrder {
                reader.error("ping \(peer): guest '\(peer)' is not running here; 'create' it before", at: item)
                ok = false
                outOfOrder = true
            }
            // A step out of order changes nothing, so that the steps after it are judged as if it were not there.
            if outOfOrder { continue }
            switch step.action {
            case .create, .restore:
                state.created = true
                state.everCreated = true
                state.saved = false
            case .save:
                state.created = false
                state.saved = true
            case .destroy, .shutdown:
                state.created = false
                state.attachedInterfaces = 0
                state.attachedDisks = 0
            case .networkAttach: state.attachedInterfaces += 1
            case .networkDetach:
                detach(&state.attachedInterfaces, .networkDetach, .networkAttach, "interface", at: item)
            case .blockAttach:
                state.attachedDisks += 1
                if let guest, guest.disks.count + state.attachedDisks > PlanSyntax.maximumDisks {
                    reader.error(
                        "guest '\(guest.name)' would have more than \(PlanSyntax.maximumDisks) disks with this block-attach",
                        at: item
                    )
                    ok = false
                }
            case .blockDetach: detach(&state.attachedDisks, .blockDetach, .blockAttach, "disk", at: item)
            default: break
            }
            progress[name] = state
            steps.append(step)
        }
        return ok ? steps : nil
    }

    /// One step; `on:` names the guest it acts on among `guests` (the case's first when absent).
    func parseStep(_ node: Node, reader: YAMLReader, guests: [GuestSpec]) -> Step? {
        guard let fields = reader.mapping(node, "a step", allowed: PlanSyntax.actions + PlanSyntax.stepOptionKeys)
        else { return nil }
        let actionEntries = fields.entries.compactMap { entry in
            ActionName(rawValue: entry.key).map { (name: $0, keyNode: entry.keyNode, value: entry.value) }
        }
        guard let actionEntry = actionEntries.first else {
            reader.error("a step needs an action: one of \(PlanSyntax.actions.joined(separator: ", "))", at: node)
            return nil
        }
        if actionEntries.count > 1 {
            reader.error(
                "a step has one action, this one has \(actionEntries.count): "
                    + actionEntries.map(\.name.rawValue).joined(separator: ", ") + "; split it into steps",
                at: actionEntries[1].keyNode
            )
            return nil
        }
        guard let action = parseAction(actionEntry.name, actionEntry.value, reader: reader) else { return nil }
        var expectation = Expectation.succeeds
        if let expectNode = fields["expect"] {
            guard let parsed = parseExpectation(expectNode, for: action, reader: reader) else { return nil }
            expectation = parsed
        }
        let timeout =
            fields["timeout"].map { reader.parsed($0, "timeout", PlanDuration.parse) }
            ?? PlanSyntax.defaultTimeout(for: action)
        let note = fields["note"].flatMap { reader.string($0, "note") }
        let retryFor = fields["retry-for"].map { reader.parsed($0, "retry-for", PlanDuration.parse) }
        guard let timeout else { return nil }
        if case .some(.none) = retryFor { return nil }
        if case .stayUp(let duration) = action, let node = fields["timeout"],
            timeout.milliseconds <= duration.milliseconds
        {
            reader.error(
                "the step's timeout (\(timeout)) ends before stay-up's \(duration) do; give it more, or leave it out",
                at: node
            )
            return nil
        }
        var target: String?
        var guest = guests.first
        if let onNode = fields["on"] {
            guard let name = reader.string(onNode, "on") else { return nil }
            guard let named = guests.first(where: { $0.name == name }) else {
                reader.error(unknownGuestOfCase(name, guests: guests, what: "on"), at: onNode)
                return nil
            }
            target = name
            guest = named
        }
        if case .pingGuest(let peer) = action {
            guard guests.contains(where: { $0.name == peer }) else {
                let names = guests.map(\.name)
                var message = "ping target '\(peer)' is not 'guest', 'host' or a guest of the case"
                if let suggestion = closestMatch(to: peer, in: names + ["guest", "host"]) {
                    message += "; did you mean '\(suggestion)'?"
                }
                reader.error(
                    message + (names.isEmpty ? "" : " (its guests: \(names.joined(separator: ", ")))"),
                    at: actionEntry.value
                )
                return nil
            }
            if peer == guest?.name {
                reader.error("ping \(peer): a guest pings another guest of the case, not itself", at: actionEntry.value)
                return nil
            }
        }
        if let guest,
            !checkAgainstGuest(
                action,
                expectation,
                guest: guest,
                node: actionEntry.value,
                expectNode: fields["expect"],
                reader: reader
            )
        {
            return nil
        }
        return Step(
            action: action,
            expectation: expectation,
            timeout: timeout,
            retryFor: retryFor ?? nil,
            note: note,
            location: reader.location(of: node),
            guest: target
        )
    }

    /// `what NAME` names no guest of the case: the message, with the guests it has.
    private func unknownGuestOfCase(_ name: String, guests: [GuestSpec], what: String) -> String {
        let names = guests.map(\.name)
        var message = "\(what): the case has no guest '\(name)'"
        if let suggestion = closestMatch(to: name, in: names) { message += "; did you mean '\(suggestion)'?" }
        return message + (names.isEmpty ? "" : " (its guests: \(names.joined(separator: ", ")))")
    }

    /// Values that cannot work with this guest: more vCPUs than it may have, hot-plug it does not allow.
    ///
    /// Problems are reported at the action's value (`node`), or at the expectation when it is what cannot hold.
    func checkAgainstGuest(
        _ action: Action,
        _ expectation: Expectation,
        guest: GuestSpec,
        node: Node,
        expectNode: Node?,
        reader: YAMLReader
    ) -> Bool {
        if let role = guest.fromHost {
            return checkAgainstHostGuest(action, guest: guest, role: role, node: node, reader: reader)
        }
        switch (action, expectation) {
        case (.vcpuSet(let count), .succeeds) where count > guest.maxvcpus:
            reader.error(
                "vcpu-set \(count) is more than guest '\(guest.name)' allows (maxvcpus \(guest.maxvcpus)); "
                    + "raise maxvcpus, or expect it to fail with 'expect: {fails-matching: ...}'",
                at: node
            )
            return false
        case (.vcpuPin(let vcpu, _), .succeeds) where vcpu >= guest.maxvcpus:
            reader.error(
                noSuchVcpu(vcpu, guest) + "; or expect it to fail with 'expect: {fails-matching: ...}'",
                at: node
            )
            return false
        case (_, .affinity(let vcpu, _)) where vcpu >= guest.maxvcpus:
            reader.error(noSuchVcpu(vcpu, guest), at: expectNode ?? node)
            return false
        case (_, .onlineVcpus(let count)) where count > guest.maxvcpus:
            reader.error(
                "expecting \(count) vCPUs online, but guest '\(guest.name)' has maxvcpus \(guest.maxvcpus)",
                at: expectNode ?? node
            )
            return false
        case (.pciAttach, .succeeds) where !guest.passthrough:
            reader.error(
                "pci-attach to guest '\(guest.name)' needs 'passthrough: true' in the guest (xl refuses hot-plug otherwise)",
                at: node
            )
            return false
        default: return true
        }
    }

    /// What cannot work on a copy of the tester's own guest: anything that needs xentest's test guest's shell inside
    /// it (commands, pings from it). Its vCPUs and devices are its config's, which the plan does not know: the
    /// toolstack judges those at run time.
    func checkAgainstHostGuest(_ action: Action, guest: GuestSpec, role: String, node: Node, reader: YAMLReader) -> Bool
    {
        let needsShell: String? =
            switch action {
            case .guestExec: "guest-exec runs in xentest's test guest's shell"
            case .ping(.host), .pingGuest: "a ping from inside a guest runs in xentest's test guest's shell"
            default: nil
            }
        guard let needsShell else { return true }
        reader.error(
            "\(needsShell), and guest '\(guest.name)' is a copy of the host file's guest '\(role)', whose shell xentest "
                + "cannot reach; check it from outside (wait-for-console, ping: guest, stay-up)",
            at: node
        )
        return false
    }

    private func noSuchVcpu(_ vcpu: Int, _ guest: GuestSpec) -> String {
        "guest '\(guest.name)' has no vCPU \(vcpu): its vCPUs are 0 to \(guest.maxvcpus - 1) (maxvcpus \(guest.maxvcpus))"
    }

    func parseAction(_ name: ActionName, _ node: Node, reader: YAMLReader) -> Action? {
        func noArgument(_ action: Action) -> Action? {
            guard reader.isNull(node) else {
                reader.error("'\(name)' takes no value; write '- \(name):'", at: node)
                return nil
            }
            return action
        }
        switch name {
        case .create:
            if reader.isNull(node) { return .create(paused: false) }
            guard let word = reader.string(node, "create") else { return nil }
            guard word == "paused" else {
                reader.error("'create' takes no value, or 'paused'; not '\(word)'", at: node)
                return nil
            }
            return .create(paused: true)
        case .destroy: return noArgument(.destroy)
        case .shutdown: return noArgument(.shutdown)
        case .pause: return noArgument(.pause)
        case .unpause: return noArgument(.unpause)
        case .list: return noArgument(.list)
        case .vcpuList: return noArgument(.vcpuList)
        case .pciAssignableList: return noArgument(.pciAssignableList)
        case .pciList: return noArgument(.pciList)
        case .networkAttach: return noArgument(.networkAttach)
        case .networkDetach: return noArgument(.networkDetach)
        case .networkList: return noArgument(.networkList)
        case .blockAttach: return parseDisk(node, "block-attach", reader: reader).map { .blockAttach($0) }
        case .blockDetach: return noArgument(.blockDetach)
        case .blockList: return noArgument(.blockList)
        case .cdInsert: return reader.parsed(node, "medium size", MemorySize.parse).map { .cdInsert($0) }
        case .cdEject: return noArgument(.cdEject)
        case .save: return noArgument(.save)
        case .restore: return noArgument(.restore)
        case .reboot: return noArgument(.reboot)
        case .migrate: return parseMigration(node, reader: reader)
        case .memSet: return reader.parsed(node, "mem-set", MemorySize.parse).map { .memSet($0) }
        case .memMax: return reader.parsed(node, "mem-max", MemorySize.parse).map { .memMax($0) }
        case .vcpuSet: return reader.int(node, "vcpu-set", in: 1...PlanSyntax.maximumVcpus).map { .vcpuSet($0) }
        case .vcpuPin:
            return parseAffinity(node, "vcpu-pin", reader: reader).map { .vcpuPin(vcpu: $0.vcpu, cpus: $0.cpus) }
        case .pciAssignableAdd: return reader.name(node, "PCI role").map { .pciAssignableAdd(role: $0) }
        case .pciAssignableRemove: return reader.name(node, "PCI role").map { .pciAssignableRemove(role: $0) }
        case .pciAttach: return reader.name(node, "PCI role").map { .pciAttach(role: $0) }
        case .pciDetach: return reader.name(node, "PCI role").map { .pciDetach(role: $0) }
        case .waitForState: return reader.word(node, "state", as: GuestState.self).map { .waitForState($0) }
        case .waitForConsole: return regex(node, reader: reader).map { .waitForConsole($0) }
        case .stayUp:
            guard let duration = reader.parsed(node, "stay-up", PlanDuration.parse) else { return nil }
            guard duration.milliseconds >= 1000 else {
                reader.error("stay-up watches the guest for a second or more; not \(duration)", at: node)
                return nil
            }
            return .stayUp(duration)
        case .ping:
            // `guest` and `host` are directions; any other name is another guest of the case.
            guard let target = reader.string(node, "ping target") else { return nil }
            if let direction = PingDirection(rawValue: target) { return .ping(direction) }
            guard YAMLReader.isName(target) else {
                reader.error(
                    "ping target '\(target)' is not 'guest', 'host' or the name of a guest of the case",
                    at: node
                )
                return nil
            }
            return .pingGuest(target)
        case .guestExec: return reader.string(node, "guest-exec command").map { .guestExec($0) }
        case .xenstoreRead:
            guard let path = reader.string(node, "xenstore path") else { return nil }
            let withoutPlaceholders = path.replacingOccurrences(of: "{domid}", with: "0")
            guard path.hasPrefix("/"), !withoutPlaceholders.contains("{"), !withoutPlaceholders.contains(" ") else {
                reader.error(
                    "xenstore path '\(path)' must be absolute, without spaces; '{domid}' is the only placeholder",
                    at: node
                )
                return nil
            }
            return .xenstoreRead(path)
        }
    }

    /// `migrate: localhost`, or `migrate: {to: localhost, times: N}` to migrate N times over. Only this host can be
    /// named: a second host is not part of a host file yet.
    func parseMigration(_ node: Node, reader: YAMLReader) -> Action? {
        var targetNode = node
        var times = 1
        if case .mapping = node {
            guard let fields = reader.mapping(node, "migrate", allowed: ["to", "times"], required: ["to"]),
                let to = fields["to"]
            else { return nil }
            targetNode = to
            if let timesNode = fields["times"] {
                guard let count = reader.int(timesNode, "times", in: 1...PlanSyntax.maximumMigrations) else {
                    return nil
                }
                times = count
            }
        }
        guard let target = reader.string(targetNode, "migrate target") else { return nil }
        guard target == "localhost" else {
            reader.error(
                "migrate goes to 'localhost' (this host: a local migration, as OSSTest's); not '\(target)'",
                at: targetNode
            )
            return nil
        }
        return .migrate(times: times)
    }

    /// `{vcpu: N, cpus: CPUS}`, as `vcpu-pin` takes it and `expect: {affinity: ...}` checks it.
    func parseAffinity(_ node: Node, _ what: String, reader: YAMLReader) -> (vcpu: Int, cpus: CPUSet)? {
        guard let fields = reader.mapping(node, what, allowed: ["vcpu", "cpus"], required: ["vcpu", "cpus"]),
            let vcpuNode = fields["vcpu"], let cpusNode = fields["cpus"]
        else { return nil }
        let vcpu = reader.int(vcpuNode, "vcpu", in: 0...(PlanSyntax.maximumVcpus - 1))
        let cpus = reader.parsed(cpusNode, "cpus", CPUSet.parse)
        if cpus?.cpus?.isEmpty == true { reader.error("cpus names no CPU", at: cpusNode) }
        guard let vcpu, let cpus, cpus.cpus?.isEmpty != true else { return nil }
        return (vcpu, cpus)
    }

    func parseExpectation(_ node: Node, for action: Action, reader: YAMLReader) -> Expectation? {
        if case .scalar = node {
            guard let word = reader.string(node, "expect") else { return nil }
            switch word {
            case "succeeds": return .succeeds
            case "fails": return .fails(matching: nil)
            default:
                var message =
                    "expect '\(word)' is not known: write 'succeeds', 'fails', or a mapping such as "
                    + "{fails-matching: REGEX}"
                if let suggestion = closestMatch(to: word, in: ["succeeds", "fails"]) {
                    message += "; did you mean '\(suggestion)'?"
                }
                reader.error(message, at: node)
                return nil
            }
        }
        guard let fields = reader.mapping(node, "expect", allowed: PlanSyntax.expectationKeys) else { return nil }
        let keys = fields.entries.map(\.key)
        let allowedKeys = action.name.expectationKeys
        for entry in fields.entries where !allowedKeys.contains(entry.key) {
            let hint =
                allowedKeys.count > 1 ? "; '\(action.name)' can expect: \(allowedKeys.joined(separator: ", "))" : ""
            reader.error("'\(action.name)' cannot expect '\(entry.key)'\(hint)", at: entry.keyNode)
            return nil
        }
        guard let entry = fields.entries.first else {
            if case .mapping(let mapping) = node, mapping.count == 0 { reader.error("expect is empty", at: node) }
            return nil
        }
        let isOutput = keys.allSatisfy { $0 == "exit-status" || $0 == "output-matches" }
        guard keys.count == 1 || (isOutput && keys.count == 2) else {
            reader.error("expect one thing per step; this one has: \(keys.joined(separator: ", "))", at: node)
            return nil
        }
        if isOutput {
            let status = fields["exit-status"].map { reader.int($0, "exit-status", in: 0...255) } ?? 0
            let pattern = fields["output-matches"].map { regex($0, reader: reader) }
            guard let status, case .some(let checkedPattern) = pattern ?? .some(nil) else { return nil }
            return .output(exitStatus: status, matching: checkedPattern)
        }
        switch entry.key {
        case "fails-matching": return regex(entry.value, reader: reader).map { .fails(matching: $0) }
        case "state": return reader.word(entry.value, "state", as: GuestState.self).map { .state($0) }
        case "online-vcpus":
            return reader.int(entry.value, "online-vcpus", in: 0...PlanSyntax.maximumVcpus).map { .onlineVcpus($0) }
        case "contains": return reader.name(entry.value, "PCI role").map { .contains(role: $0) }
        case "lacks": return reader.name(entry.value, "PCI role").map { .lacks(role: $0) }
        case "count": return reader.int(entry.value, "count", in: 0...64).map { .count($0) }
        case "memory": return reader.parsed(entry.value, "memory", MemorySize.parse).map { .memory($0) }
        case "affinity":
            return parseAffinity(entry.value, "affinity", reader: reader)
                .map { .affinity(vcpu: $0.vcpu, cpus: $0.cpus) }
        default: return reader.string(entry.value, "equals").map { .equals($0) }
        }
    }

    /// A pattern that compiles under the plan's regex rule.
    func regex(_ node: Node, reader: YAMLReader) -> PlanPattern? {
        guard let pattern = reader.string(node, "pattern") else { return nil }
        do { return try PlanPattern(pattern) } catch {
            reader.error("'\(pattern)' is not a valid regular expression: \(error)", at: node)
            return nil
        }
    }

    /// The explicit requirements plus those the guests and steps imply, each once, explicit ones first.
    func implied(_ explicit: [Requirement], guests: [GuestSpec], steps: [Step]) -> [Requirement] {
        func stepGuest(_ step: Step) -> GuestSpec? {
            step.guest.flatMap { name in guests.first { $0.name == name } } ?? guests.first
        }
        var all = explicit
        func add(_ requirement: Requirement) { if !all.contains(requirement) { all.append(requirement) } }
        for guest in guests {
            if let role = guest.fromHost {
                add(.hostGuest(role: role))
                continue
            }
            if guest.type == .hvm { add(.hvm) }
            if guest.type == .pvh { add(.pvh) }
            if guest.nics > 0 { add(.bridge) }
            if !guest.pci.isEmpty { add(.iommu) }
            for role in guest.pci { add(.pciDevice(role: role)) }
            for disk in guest.disks { add(.diskFormat(disk.format)) }
            if guest.cdrom != nil { add(.diskFormat(.raw)) }
        }
        for step in steps {
            switch step.action {
            case .pciAttach(let role):
                add(.iommu)
                add(.pciDevice(role: role))
            case .pciAssignableAdd(let role), .pciAssignableRemove(let role), .pciDetach(let role):
                add(.pciDevice(role: role))
            case .networkAttach: add(.bridge)
            case .blockAttach(let disk): add(.diskFormat(disk.format))
            case .cdInsert: add(.diskFormat(.raw))
            case .guestExec: add(.testGuest)
            case .migrate where stepGuest(step).map { $0.type == .pv && $0.fromHost == nil } == true: add(.shadowPaging)
            case .vcpuPin(_, let cpus):
                // The host must have the highest CPU named; a larger requirement already there covers it.
                if let highest = cpus.highest {
                    let covered = all.contains { if case .minHostCPUs(let n) = $0 { n > highest } else { false } }
                    if !covered { add(.minHostCPUs(highest + 1)) }
                }
            case .ping(.guest) where stepGuest(step)?.fromHost != nil:
                add(.hostGuestAddress(role: stepGuest(step)!.fromHost!))
            case .ping, .pingGuest:
                add(.testGuest)
                add(.bridge)
            default: break
            }
            switch step.expectation {
            case .contains(let role), .lacks(let role): add(.pciDevice(role: role))
            default: break
            }
        }
        return all
    }
}

extension Action {
    /// Whether the action needs the case's guest.
    var actsOnGuest: Bool {
        switch self {
        case .pciAssignableAdd, .pciAssignableRemove, .pciAssignableList: false
        default: true
        }
    }

    /// Whether the guest must exist (created and not yet destroyed) for the action.
    var needsRunningGuest: Bool {
        switch self {
        case .create, .restore, .list, .waitForState, .pciAssignableAdd, .pciAssignableRemove, .pciAssignableList: false
        default: true
        }
    }
}
