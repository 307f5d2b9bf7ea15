import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// One command captured in dom0 of a real Xen 4.17 (Fixtures/xl, see the README there).
struct XLCapture {
    let name: String
    let stdout: String
    let stderr: String
    let status: Int

    /// `Fixtures/xl/` as copied into the test bundle.
    static var directory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures not in the bundle")
                .appendingPathComponent("xl")
        }
    }

    /// The text of a fixture file under `Fixtures/xl/`.
    static func file(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// The capture `name` (its .stdout, .stderr and .status files).
    init(_ name: String) throws {
        self.name = name
        stdout = try Self.file(name + ".stdout")
        stderr = try Self.file(name + ".stderr")
        let statusText = try Self.file(name + ".status")
        status = try #require(Int(statusText.trimmingCharacters(in: .newlines)), "\(name).status: '\(statusText)'")
    }
}

/// Which parser reads a capture's stdout.
enum XLOutputKind: Sendable, CaseIterable {
    case info, list, listLong, vcpuList, pciList, pciAssignableList, networkList, blockList, domid, xenstoreRead
    /// Commands that print nothing on stdout (create, vcpu-set, attach, ...).
    case nothing
    /// `xl dmesg | tail -20`: Xen's log, not parsed.
    case log
    /// Another program in dom0 (`cat /etc/os-release`): neither xl's output nor xl's messages.
    case shell

    /// Runs this kind's parser; nil for kinds without one.
    func parse(_ text: String) throws(XLParseError) -> Any? {
        switch self {
        case .info: try XLParse.info(text)
        case .list: try XLParse.list(text)
        case .listLong: try XLParse.listLong(text)
        case .vcpuList: try XLParse.vcpuList(text)
        case .pciList: try XLParse.pciList(text)
        case .pciAssignableList: try XLParse.pciAssignableList(text)
        case .networkList: try XLParse.networkList(text)
        case .blockList: try XLParse.blockList(text)
        case .domid: try XLParse.domid(text)
        case .xenstoreRead: try XLParse.xenstoreRead(text)
        case .nothing, .log, .shell: nil
        }
    }

    static let parsers: [XLOutputKind] = allCases.filter { $0 != .nothing && $0 != .log && $0 != .shell }
}

/// Every capture in Fixtures/xl and the parser for its stdout.
let xlCaptures: [String: XLOutputKind] = [
    "info": .info, "info-with-guest": .info, "noiommu-info": .info, "list": .list, "list-dom0-only": .list,
    "list-guest1": .list, "list-nonexistent": .list, "list-paused": .list, "list-unpaused": .list,
    "list-after-shutdown": .list, "noiommu-list-after-destroy": .list, "noiommu-list-right-after-shutdown": .list,
    "noiommu-list-3s-after-shutdown": .list, "list-l": .listLong, "list-l-with-pci-and-vifs": .listLong,
    "vcpu-list-1": .vcpuList, "vcpu-list-2": .vcpuList, "vcpu-list-4": .vcpuList, "vcpu-list-back-to-1": .vcpuList,
    "vcpu-list-all": .vcpuList, "noiommu-vcpu-list-nonexistent": .vcpuList, "pci-list-empty": .pciList,
    "pci-list": .pciList, "pci-list-after-detach": .pciList, "noiommu-pci-list": .pciList,
    "pci-assignable-list-empty": .pciAssignableList, "pci-assignable-list": .pciAssignableList,
    "pci-assignable-list-while-attached": .pciAssignableList, "noiommu-pci-assignable-list": .pciAssignableList,
    "network-list-1": .networkList, "network-list-2": .networkList, "network-list-after-detach": .networkList,
    "domid": .domid, "xenstore-read-feature-split-event-channels": .xenstoreRead,
    "xenstore-read-event-channel-tx": .xenstoreRead, "xenstore-read-nonexistent": .xenstoreRead, "create": .nothing,
    "vcpu-set-i-2": .nothing, "vcpu-set-4-overcommit": .nothing, "vcpu-set-i-4": .nothing, "vcpu-set-5": .nothing,
    "vcpu-set-i-5": .nothing, "vcpu-set-i-1": .nothing, "network-attach": .nothing, "network-detach": .nothing,
    "pci-assignable-add": .nothing, "pci-attach": .nothing, "pci-detach": .nothing, "pci-assignable-remove": .nothing,
    "pause": .nothing, "unpause": .nothing, "destroy-nonexistent": .nothing, "shutdown-w": .nothing,
    "noiommu-create-passthrough-enabled": .nothing, "noiommu-create": .nothing, "noiommu-pci-assignable-add": .nothing,
    "noiommu-pci-attach": .nothing, "noiommu-create-duplicate": .nothing, "noiommu-destroy": .nothing,
    "noiommu-create-2": .nothing, "noiommu-shutdown-w": .nothing, "dmesg-tail": .log, "save": .nothing,
    "restore": .nothing, "migrate-pvh": .nothing, "migrate-pv-no-shadow": .nothing, "reboot": .nothing,
    "mem-set-96": .nothing, "list-ballooned": .list, "mem-max-112": .nothing, "mem-set-above-max": .nothing,
    "vcpu-list-before-pin": .vcpuList, "vcpu-list-pinned": .vcpuList, "vcpu-list-pinned-range": .vcpuList,
    "vcpu-list-unpinned": .vcpuList, "vcpu-pin-0-1": .nothing, "vcpu-pin-1-0-1": .nothing, "vcpu-pin-0-all": .nothing,
    "vcpu-pin-absent-cpu": .nothing, "vcpu-pin-absent-vcpu": .nothing, "block-list-1": .blockList,
    "block-list-2": .blockList, "block-list-after-detach": .blockList, "block-list-nonexistent": .blockList,
    "block-attach": .nothing, "block-attach-duplicate-vdev": .nothing, "block-attach-missing-target": .nothing,
    "block-detach": .nothing, "block-detach-absent": .nothing, "qemu-img-version": .log, "os-release": .shell,
]

/// Captures whose command exited 0 though xl said on stderr that it could not do it: `xl block-list` of a guest
/// it does not know prints the header, complains, and exits 0.
let xlSucceededDespiteAProblem: Set<String> = ["block-list-nonexistent"]

/// The `xl network-list` header, with single spaces.
let networkHeader = "Idx BE Mac Addr. handle state evt-ch tx-/rx-ring-ref BE-path\n"

/// Captures whose command failed and printed nothing parseable on stdout.
let xlFailedWithoutOutput: Set<String> = ["list-nonexistent", "xenstore-read-nonexistent"]

extension XLParseError {
    /// Whether `lineNumber` and `line` agree with `text`: the line is that line of the text.
    func pointsIntoText(_ text: String) -> Bool {
        guard let lineNumber else { return line == nil }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lineNumber >= 1 && lineNumber <= lines.count && lines[lineNumber - 1] == line
    }
}

/// Runs `body`, which must throw an `XLParseError`; returns it.
func expectParseError<T>(
    _ body: () throws(XLParseError) -> T,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> XLParseError? {
    do {
        let value = try body()
        Issue.record("expected an XLParseError, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch { return error }
}

@Suite("xl output parsers, on real Xen 4.17 captures") struct XLParserTests {
    // MARK: The fixtures themselves

    @Test func everyCaptureIsCompleteAndKnownToTheTests() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: XLCapture.directory.path)
        let captured = Set(files.filter { $0.hasSuffix(".stdout") }.map { String($0.dropLast(".stdout".count)) })
        #expect(captured == Set(xlCaptures.keys))
        for name in captured {
            #expect(files.contains(name + ".stderr"), "\(name).stderr")
            #expect(files.contains(name + ".status"), "\(name).status")
        }
        let others = Set(
            files.filter { !$0.hasSuffix(".stdout") && !$0.hasSuffix(".stderr") && !$0.hasSuffix(".status") }
        )
        #expect(others == ["README.md", "guest1-console.log", "guest1-pt.cfg", "guest1.cfg"])
    }

    @Test func readmeListsEveryCaptureWithItsStatus() throws {
        let readme = try XLCapture.file("README.md")
        for name in xlCaptures.keys {
            let capture = try XLCapture(name)
            let row = readme.split(separator: "\n").first { $0.hasPrefix("| `\(name)` |") }
            let columns = try #require(row, "README has no row for \(name)").replacingOccurrences(of: "\\|", with: "/")
                .split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(columns.count >= 4 && columns[3] == String(capture.status), "\(name): README status vs .status")
        }
    }

    // MARK: Every parser on every capture

    @Test(arguments: xlCaptures.keys.sorted()) func captureParsesWithItsParser(_ name: String) throws {
        let capture = try XLCapture(name)
        let kind = try #require(xlCaptures[name])
        switch kind {
        case .nothing: #expect(capture.stdout.isEmpty, "\(name) printed on stdout")
        case .log: #expect(!capture.stdout.isEmpty)
        case .shell: #expect(!(capture.stdout + capture.stderr).isEmpty, "\(name) said nothing")
        default:
            if xlFailedWithoutOutput.contains(name) {
                #expect(capture.status != 0)
                #expect(capture.stdout.isEmpty)
                let error = expectParseError { () throws(XLParseError) in try kind.parse(capture.stdout) }
                #expect(error?.reason.contains("empty output") == true)
            } else {
                #expect(throws: Never.self, "\(name)") { try kind.parse(capture.stdout) }
            }
        }
    }

    /// Headers are checked: a parser given another command's output refuses it rather than inventing rows.
    @Test(arguments: XLOutputKind.parsers) func parserRefusesOtherCommandsOutput(_ parser: XLOutputKind) throws {
        for (name, kind) in xlCaptures where kind != parser {
            let text = try XLCapture(name).stdout
            // Texts that are legitimately valid for both: empty output (pci-list, pci-assignable-list accept it) and
            // a single number (domid and xenstore-read are both one line).
            // A single line is a valid xenstore value.
            if text.isEmpty || Set([kind, parser]).isSubset(of: [.domid, .xenstoreRead, .pciAssignableList])
                || (parser == .xenstoreRead && text.split(separator: "\n").count == 1)
            {
                continue
            }
            let error = expectParseError { () throws(XLParseError) in try parser.parse(text) }
            #expect(error?.pointsIntoText(text) == true, "\(parser) on \(name): \(String(describing: error))")
        }
    }

    @Test(arguments: xlCaptures.keys.sorted()) func stderrIsHarmlessOnSuccessAndExplainedOnFailure(_ name: String)
        throws
    {
        let capture = try XLCapture(name)
        guard xlCaptures[name] != .shell else { return }
        let stderr = XLParse.stderr(capture.stderr)
        #expect(stderr.messages.count == capture.stderr.split(separator: "\n").count)
        #expect(stderr.messages.allSatisfy { $0.kind != .unrecognized }, "\(name): \(stderr.messages)")
        if capture.status == 0 && !xlSucceededDespiteAProblem.contains(name) {
            #expect(stderr.primaryProblem == nil, "\(name): \(String(describing: stderr.primaryProblem))")
            #expect(stderr.summary == nil)
        } else {
            let problem = try #require(stderr.primaryProblem, "\(name) failed without a known reason")
            #expect(problem.explanation != nil && stderr.summary == problem.explanation)
        }
    }

    /// Cutting any capture anywhere never traps; an error always names a real line of the text it was given.
    @Test(arguments: XLOutputKind.parsers) func truncatedCapturesNeverCrash(_ parser: XLOutputKind) throws {
        for (name, kind) in xlCaptures where kind == parser {
            let text = Array(try XLCapture(name).stdout)
            for cut in 0...text.count {
                let prefix = String(text[..<cut])
                do { _ = try parser.parse(prefix) } catch {
                    #expect(error.pointsIntoText(prefix), "\(name) cut at \(cut): \(error)")
                    #expect(!error.command.isEmpty && !error.reason.isEmpty)
                }
            }
        }
    }

    /// Random single-character edits of every capture (seeded, so reproducible): never a trap, and an error always
    /// names a real line of the edited text.
    @Test(arguments: XLOutputKind.parsers) func mutatedCapturesNeverCrash(_ parser: XLOutputKind) throws {
        var state: UInt64 = 0x5eed
        func random(_ bound: Int) -> Int {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
        let replacements: [Character] = [
            ":", "-", "/", ".", "0", "9", "p", "r", "x", " ", "\t", "\n", "{", "\"", "é", "\u{0}",
        ]
        var parsed = 0
        var rejected = 0
        for (name, kind) in xlCaptures where kind == parser {
            let original = Array(try XLCapture(name).stdout)
            guard !original.isEmpty else { continue }
            for _ in 0..<300 {
                var text = original
                text[random(text.count)] = replacements[random(replacements.count)]
                let edited = String(text)
                do {
                    _ = try parser.parse(edited)
                    parsed += 1
                } catch {
                    rejected += 1
                    #expect(error.pointsIntoText(edited), "\(name): \(error)")
                }
            }
        }
        #expect(rejected > 0, "some edits must be refused")
        #expect(parsed + rejected > 0)
    }

    /// A table row cut in half is an error naming that row, not a shorter row.
    @Test(arguments: ["list", "list-guest1", "vcpu-list-4", "vcpu-list-all", "network-list-2", "pci-list"])
    func halfALastRowIsAnError(_ name: String) throws {
        let capture = try XLCapture(name)
        var lines = capture.stdout.split(separator: "\n").map(String.init)
        try #require(!lines.isEmpty)
        let last = lines.removeLast()
        let half = String(last.prefix(last.count / 2))
        let text = (lines + [half]).joined(separator: "\n") + "\n"
        let kind = try #require(xlCaptures[name])
        guard let error = expectParseError({ () throws(XLParseError) in try kind.parse(text) }) else { return }
        #expect(error.lineNumber == lines.count + 1)
        #expect(error.line == half)
    }

    // MARK: xl info

    @Test func infoWithIOMMU() throws {
        let info = try XLParse.info(XLCapture("info").stdout)
        #expect(info.xenVersion == "4.17.7")
        #expect(info.version == Version([4, 17, 7]))
        #expect(info["xen_version"] == info.xenVersion)
        #expect(info.hostname == "dom0")
        #expect(info.release == "6.1.0-56-amd64")
        #expect(info.machine == "x86_64")
        #expect(info.cpus == 2)
        #expect(info.totalMemoryMiB == 3071)
        #expect(info.freeMemoryMiB == 2013)
        #expect(info.virtCaps == ["pv", "hvm", "hvm_directio", "pv_directio", "gnttab-v1", "gnttab-v2"])
        #expect(info.xenCaps == ["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"])
        #expect(info.canPassThroughPCI)
        #expect(info.fields.count == 34)
        #expect(info.fields.first == XLInfo.Field(key: "host", value: "dom0"))
        #expect(info.fields.last == XLInfo.Field(key: "xend_config_format", value: "4"))
        #expect(info["xen_changeset"] == "")
        #expect(info["xen_scheduler"] == "credit2")
        #expect(info["xen_commandline"]?.hasSuffix("noreboot iommu=1") == true)
        #expect(info["cc_compile_date"] == "Wed Nov  4 16:52:28 UTC 2026", "a value with colons stays whole")
    }

    @Test func infoWithoutIOMMUHasNoDirectIO() throws {
        let info = try XLParse.info(XLCapture("noiommu-info").stdout)
        #expect(info.virtCaps == ["pv", "hvm", "gnttab-v1", "gnttab-v2"])
        #expect(!info.canPassThroughPCI)
        #expect(info.xenVersion == "4.17.7")
    }

    @Test func runningGuestTakesItsMemoryFromFreeMemory() throws {
        let before = try XLParse.info(XLCapture("info").stdout)
        let after = try XLParse.info(XLCapture("info-with-guest").stdout)
        let guest = try #require(try XLParse.list(XLCapture("list-guest1").stdout).first)
        #expect(before.freeMemoryMiB - after.freeMemoryMiB == guest.memoryMiB)
        #expect(before.totalMemoryMiB == after.totalMemoryMiB)
    }

    @Test func infoVersionJoinsExtraVerbatim() throws {
        let text = """
            host : h
            release : r
            machine : x86_64
            nr_cpus : 8
            total_memory : 100
            free_memory : 50
            virt_caps : pv
            xen_major : 4
            xen_minor : 18
            xen_extra : .0-rc
            xen_caps : xen-3.0-x86_64

            """
        let info = try XLParse.info(text)
        #expect(info.xenVersion == "4.18.0-rc")
        #expect(info.version == Version([4, 18, 0]))
        #expect(info.cpus == 8)
    }

    @Test(
        arguments: [
            ("", nil), ("\n\n", nil), ("garbage", 1), ("host dom0", 1), ("host : dom0", nil),
            ("host : dom0\nNR CPUS : 2", 2), ("  : value", 1), ("\u{0}\u{1}\u{2}", 1),
        ] as [(String, Int?)]
    ) func infoRejectsMalformedText(_ text: String, lineNumber: Int?) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.info(text) }
        #expect(error?.command == "xl info")
        #expect(error?.lineNumber == lineNumber)
        #expect(error?.pointsIntoText(text) == true)
    }

    @Test func infoRejectsATruncatedCaptureAndANonNumber() throws {
        let lines = try XLCapture("info").stdout.split(separator: "\n").map(String.init)
        let truncated = lines.prefix(10).joined(separator: "\n")
        let missing = expectParseError { () throws(XLParseError) in try XLParse.info(truncated) }
        #expect(missing?.reason == "no 'xen_major' line")
        #expect(missing?.lineNumber == nil)

        let edited = lines.map { $0.hasPrefix("nr_cpus") ? "nr_cpus                : two" : $0 }.joined(separator: "\n")
        let error = expectParseError { () throws(XLParseError) in try XLParse.info(edited) }
        #expect(error?.lineNumber == 5)
        #expect(error?.line == "nr_cpus                : two")
        #expect(
            error?.description
                == "xl info: line 5: 'nr_cpus' is not a whole number of at least 1: 'nr_cpus                : two'"
        )
    }

    // MARK: xl list

    @Test func listWithAGuest() throws {
        let rows = try XLParse.list(XLCapture("list").stdout)
        try #require(rows.count == 2)
        #expect(
            rows[0]
                == XLDomainRow(
                    name: "Domain-0",
                    id: 0,
                    memoryMiB: 1024,
                    vcpus: 2,
                    stateFlags: "r-----",
                    cpuSeconds: 14.1,
                    state: .running,
                    shutdownReason: nil
                )
        )
        #expect(
            rows[1]
                == XLDomainRow(
                    name: "guest1",
                    id: 1,
                    memoryMiB: 256,
                    vcpus: 1,
                    stateFlags: "-b----",
                    cpuSeconds: 3.9,
                    state: .running,
                    shutdownReason: nil
                )
        )
        #expect(rows[1].state.guestState == .running)
    }

    @Test func listOfOneDomainAndOfDom0Alone() throws {
        let guest = try XLParse.list(XLCapture("list-guest1").stdout)
        #expect(guest.map(\.name) == ["guest1"])
        #expect(guest.first?.id == (try XLParse.domid(XLCapture("domid").stdout)))
        #expect(try XLParse.list(XLCapture("list-dom0-only").stdout).map(\.name) == ["Domain-0"])
        #expect(try XLParse.list(XLCapture("noiommu-list-after-destroy").stdout).map(\.name) == ["Domain-0"])
    }

    @Test func pausedAndUnpaused() throws {
        let paused = try #require(try XLParse.list(XLCapture("list-paused").stdout).first { $0.name == "guest1" })
        #expect(paused.stateFlags == "-bp---")
        #expect(paused.state == .paused)
        #expect(paused.state.guestState == .paused)
        let unpaused = try #require(try XLParse.list(XLCapture("list-unpaused").stdout).first)
        #expect(unpaused.stateFlags == "-b----")
        #expect(unpaused.state == .running)
    }

    /// `xl shutdown -w` returns before xl's background process destroys the domain: it is still listed, shut down
    /// and paused, and gone a few seconds later.
    @Test func shutDownGuestLingersBrieflyAfterShutdownW() throws {
        for name in ["list-after-shutdown", "noiommu-list-right-after-shutdown"] {
            let guest = try #require(try XLParse.list(XLCapture(name).stdout).first { $0.name == "guest1" }, "\(name)")
            #expect(guest.stateFlags == "--ps--")
            #expect(guest.state == .shutdown)
            #expect(guest.shutdownReason == .poweroff)
            #expect(guest.state.guestState == .shutoff)
        }
        #expect(try XLParse.list(XLCapture("noiommu-list-3s-after-shutdown").stdout).map(\.name) == ["Domain-0"])
    }

    @Test(
        arguments: [
            ("r-----", XLDomainState.running, nil), ("------", .running, nil), ("-b----", .running, nil),
            ("--p---", .paused, nil), ("--ps--", .shutdown, XLShutdownReason.poweroff), ("---sr-", .shutdown, .reboot),
            ("--pss-", .shutdown, .suspend), ("--psc-", .crashed, .crash), ("---sw-", .shutdown, .watchdog),
            ("---sS-", .shutdown, .softReset), ("---s?-", .shutdown, .unknown), ("--psc-d", nil, nil),
            ("-b---d", .dying, nil), ("--pscd", .dying, .crash), ("x-----", nil, nil), ("----r-", nil, nil),
            ("-b---", nil, nil), ("rbpsxd", nil, nil),
        ] as [(String, XLDomainState?, XLShutdownReason?)]
    ) func stateFlagsDecode(_ flags: String, state: XLDomainState?, reason: XLShutdownReason?) {
        let text =
            "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
            + "g                                            7   256     1     \(flags)       0.5\n"
        if let state {
            let row = try? XLParse.list(text).first
            #expect(row?.state == state)
            #expect(row?.shutdownReason == reason)
            #expect(row?.stateFlags == flags)
        } else {
            let error = expectParseError { () throws(XLParseError) in try XLParse.list(text) }
            #expect(error?.lineNumber == 2)
        }
    }

    @Test func longNamesAndNamesWithSpacesKeepTheirText() throws {
        let long = String(repeating: "n", count: 50)
        let text =
            "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
            + "\(long) 12   512     2     -b----       1.0\n"
            + "a guest                                     13   512     2     -b----       1.0\n"
        #expect(try XLParse.list(text).map(\.name) == [long, "a guest"])
    }

    @Test(
        arguments: [
            ("", nil), ("\n", nil), ("garbage\n", 1),
            ("Name ID Mem VCPUs State Time(s) UUID Reason-Code Security Label\n", 1),
            ("Name ID Mem VCPUs State Time(s)\nguest1 1 256\n", 2),
            ("Name ID Mem VCPUs State Time(s)\nguest1 x 256 1 -b---- 3.9\n", 2),
            ("Name ID Mem VCPUs State Time(s)\nguest1 1 256 1 -b---- nan\n", 2),
            ("Name ID Mem VCPUs State Time(s)\nguest1 -1 256 1 -b---- 3.9\n", 2),
            ("Name ID Mem VCPUs State Time(s)\n 1 256 1 -b---- 3.9\n", 2),
            ("Name ID Mem VCPUs State Time(s)\nguest1 1 99999999999999999999999 1 -b---- 3.9\n", 2),
        ] as [(String, Int?)]
    ) func listRejectsMalformedText(_ text: String, lineNumber: Int?) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.list(text) }
        #expect(error?.command == "xl list")
        #expect(error?.lineNumber == lineNumber)
        #expect(error?.pointsIntoText(text) == true)
    }

    // MARK: xl list -l

    @Test func listLongWithDom0AndGuest() throws {
        let domains = try XLParse.listLong(XLCapture("list-l").stdout)
        try #require(domains.count == 2)
        let dom0 = domains[0]
        #expect(dom0.domid == 0)
        #expect(dom0.name == "Domain-0")
        #expect(dom0.maxVCPUs == nil)
        #expect(dom0.uuid == nil)
        #expect(dom0.nics.isEmpty && dom0.pciDevices.isEmpty)
        let guest = domains[1]
        #expect(guest.domid == 1)
        #expect(guest.name == "guest1")
        #expect(guest.type == "pv")
        #expect(guest.uuid == "9e87600e-e86c-11f1-8360-82c850df3143")
        #expect(guest.maxVCPUs == 4)
        #expect(guest.maxMemoryKiB == 256 * 1024)
        #expect(guest.targetMemoryKiB == 256 * 1024)
        #expect(guest.passthrough == "enabled")
        #expect(
            guest.nics == [XLDomainDetails.NIC(devid: 0, mac: "00:16:3e:00:00:02", bridge: "xenbr0", nictype: "vif")]
        )
        #expect(guest.pciDevices.isEmpty)
    }

    @Test func listLongShowsAttachedDevicesAndAgreesWithTheLists() throws {
        let domains = try XLParse.listLong(XLCapture("list-l-with-pci-and-vifs").stdout)
        let guest = try #require(domains.first)
        #expect(domains.count == 1)
        #expect(guest.pciDevices.map(\.description) == ["0000:00:04.0"])
        #expect(guest.pciDevices == (try XLParse.pciList(XLCapture("pci-list").stdout)).map(\.address))
        #expect(guest.nics.map(\.mac) == ["00:16:3e:00:00:02", "00:16:3e:00:00:03"])
        #expect(guest.nics.map(\.devid) == [0, 1])
        let network = try XLParse.networkList(XLCapture("network-list-2").stdout)
        #expect(guest.nics.map(\.mac) == network.map { Optional($0.mac) })
        #expect(guest.nics.map(\.devid) == network.map { Optional($0.idx) })
    }

    @Test func listLongAcceptsASingleObjectAndDefaultsPCIFieldsToZero() throws {
        let text = """
            {"domid": 5, "config": {"c_info": {"name": "g"},
                "pcidevs": [{"bus": 3, "func": 1}, {"domain": 1, "dev": 31}]}}
            """
        let domain = try #require(try XLParse.listLong(text).first)
        #expect(domain.domid == 5)
        #expect(domain.pciDevices.map(\.description) == ["0000:03:00.1", "0001:00:1f.0"])
        #expect(domain.maxVCPUs == nil && domain.nics.isEmpty)
    }

    @Test(arguments: [
        "", "  \n", "[", "garbage", "(domain (domid 1) (name guest1))", "[{\"domid\": 1}]",
        "[{\"domid\": 1, \"config\": {}}]", "[{\"domid\": 1, \"config\": {\"c_info\": {}}}]",
        "[{\"domid\": 1, \"config\": {\"c_info\": {\"name\": \"\"}}}]",
        "[{\"domid\": -1, \"config\": {\"c_info\": {\"name\": \"g\"}}}]",
        "[{\"domid\": \"1\", \"config\": {\"c_info\": {\"name\": \"g\"}}}]",
        "[{\"domid\": 1.5, \"config\": {\"c_info\": {\"name\": \"g\"}}}]",
        "[{\"domid\": 1, \"config\": {\"c_info\": {\"name\": \"g\"}, \"pcidevs\": [{\"dev\": 32}]}}]",
        "[{\"domid\": 1, \"config\": {\"c_info\": {\"name\": \"g\"}, \"b_info\": {\"max_vcpus\": \"4\"}}}]",
        "[{\"domid\": 1, \"config\": {\"c_info\": {\"name\": \"g\"}, \"nics\": {}}}]", "[1, 2]", "{}", "null",
    ]) func listLongRejectsMalformedText(_ text: String) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.listLong(text) }
        #expect(error?.command == "xl list -l")
        #expect(error?.pointsIntoText(text) == true)
    }

    @Test func listLongTruncatedHalfwayIsAnErrorOnItsLastLine() throws {
        let text = try XLCapture("list-l").stdout
        let half = String(text.prefix(text.count / 2))
        let error = try #require(expectParseError { () throws(XLParseError) in try XLParse.listLong(half) })
        #expect(error.reason.hasPrefix("not valid JSON"))
        #expect(error.lineNumber == half.split(separator: "\n", omittingEmptySubsequences: false).count)
        #expect(error.pointsIntoText(half))
    }

    @Test func listLongSyntaxErrorNamesItsLine() throws {
        let text = try XLCapture("list-l").stdout
            .replacingOccurrences(of: "\"max_vcpus\": 4", with: "\"max_vcpus\": four")
        let error = try #require(expectParseError { () throws(XLParseError) in try XLParse.listLong(text) })
        #expect(error.line?.contains("four") == true, "\(error)")
        #expect(error.pointsIntoText(text))
    }

    // MARK: xl vcpu-list

    /// The guest started with vcpus=1, maxvcpus=4; `vcpu-set -i` to 2, then 4, then back to 1.
    @Test(arguments: [("vcpu-list-1", 1), ("vcpu-list-2", 2), ("vcpu-list-4", 4), ("vcpu-list-back-to-1", 1)])
    func onlineVCPUsFollowVcpuSet(_ name: String, online: Int) throws {
        let rows = try XLParse.vcpuList(XLCapture(name).stdout)
        #expect(rows.count == 4, "all maxvcpus are listed")
        #expect(rows.map(\.vcpu) == [0, 1, 2, 3])
        #expect(rows.allSatisfy { $0.name == "guest1" && $0.domid == 1 })
        #expect(rows.filter(\.isOnline).count == online)
        #expect(rows.prefix(online).allSatisfy { $0.isOnline }, "the lowest-numbered vCPUs are the online ones")
        for row in rows.dropFirst(online) {
            #expect(row.cpu == nil)
            #expect(row.stateFlags == "--p")
            #expect(!row.isRunning && !row.isBlocked)
        }
        for row in rows.prefix(online) {
            #expect(row.cpu.map { (0..<2).contains($0) } == true, "on one of the 2 physical CPUs")
            #expect(row.hardAffinity == .all && row.softAffinity == .all)
        }
    }

    /// Run D: vcpus=2 on a host with 2 CPUs up and 4 possible (max_cpu_id 3); vCPU 0 pinned to 1, vCPU 1 to 0-1,
    /// then vCPU 0 to all. xl keeps `0-1` as a range: it is not every CPU Xen could have.
    @Test func hardAffinityFollowsVcpuPin() throws {
        func affinity(_ name: String) throws -> [CPUSet] {
            try XLParse.vcpuList(XLCapture(name).stdout).map(\.hardAffinity)
        }
        #expect(try affinity("vcpu-list-before-pin") == [.all, .all])
        #expect(try affinity("vcpu-list-pinned") == [CPUSet(cpus: [1]), .all])
        #expect(try affinity("vcpu-list-pinned-range") == [CPUSet(cpus: [1]), CPUSet(cpus: [0, 1])])
        #expect(try affinity("vcpu-list-unpinned") == [.all, CPUSet(cpus: [0, 1])])
        let soft = try XLParse.vcpuList(XLCapture("vcpu-list-pinned").stdout).map(\.softAffinity)
        #expect(soft == [CPUSet(cpus: [0, 1]), CPUSet(cpus: [0, 1])], "the soft affinity is left as it was")
        for name in ["vcpu-pin-0-1", "vcpu-pin-1-0-1", "vcpu-pin-0-all"] {
            let capture = try XLCapture(name)
            #expect(capture.status == 0 && capture.stdout.isEmpty && capture.stderr.isEmpty, "\(name)")
        }
    }

    /// A CPU the host lacks and a vCPU the guest lacks: libxl's one message, EINVAL, for both.
    @Test(arguments: [("vcpu-pin-absent-cpu", "0"), ("vcpu-pin-absent-vcpu", "5")]) func vcpuPinRefused(
        _ name: String,
        vcpu: String
    ) throws {
        let capture = try XLCapture(name)
        #expect(capture.status == 1)
        #expect(capture.stderr.contains("Could not set affinity for vcpu `\(vcpu)'."))
        let problem = try #require(XLParse.stderr(capture.stderr).primaryProblem)
        #expect(problem.kind == .affinityRefused && problem.lineNumber == 1, "\(problem)")
        #expect(XLParse.stderr(capture.stderr).summary?.contains("no such CPU up, or the guest no such vCPU") == true)
    }

    @Test("an affinity that is not a CPU set is an error at its line") func vcpuListRejectsAnAffinityThatIsNoCPUSet() {
        let text = "Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 0 0 -b- 3.1 ^1 / all\n"
        let error = expectParseError { () throws(XLParseError) in try XLParse.vcpuList(text) }
        #expect(error?.lineNumber == 2)
        #expect(error?.reason.contains("hard affinity '^1'") == true)
    }

    @Test func vcpuListOfAllDomains() throws {
        let rows = try XLParse.vcpuList(XLCapture("vcpu-list-all").stdout)
        #expect(rows.count == 6)
        let dom0 = rows.filter { $0.domid == 0 }
        #expect(dom0.map(\.name) == ["Domain-0", "Domain-0"])
        #expect(dom0.allSatisfy { $0.isOnline })
        #expect(dom0[1].isRunning && dom0[1].stateFlags == "r--" && dom0[1].cpu == 0)
        #expect(dom0[0].isBlocked && dom0[0].cpu == 1 && dom0[0].cpuSeconds == 7.8)
        #expect(rows.filter { $0.domid == 1 && $0.isOnline }.count == 1)
    }

    @Test func vcpuListOfAMissingDomainIsJustTheHeader() throws {
        let capture = try XLCapture("noiommu-vcpu-list-nonexistent")
        #expect(capture.status == 1)
        #expect(try XLParse.vcpuList(capture.stdout).isEmpty)
        #expect(XLParse.stderr(capture.stderr).primaryProblem?.kind == .noSuchDomain("nosuchguest"))
    }

    /// What the guest's init printed (`DOMU_CPUS_ONLINE=` on every change) matches xl's view after each vcpu-set.
    @Test func guestConsoleAgreesWithVcpuList() throws {
        let console = try XLCapture.file("guest1-console.log")
        #expect(console.hasPrefix("DOMU_BOOTED cpus_online=0\nDOMU_NET_UP\n"))
        let seen = console.split(separator: "\n")
            .compactMap { line -> String? in
                guard let range = line.range(of: "DOMU_CPUS_ONLINE=") else { return nil }
                return String(line[range.upperBound...])
            }
        #expect(seen == ["0", "0-1", "0-3", "0"])
        func count(_ cpus: String) -> Int {
            let bounds = cpus.split(separator: "-").compactMap { Int($0) }
            return bounds.count == 2 ? bounds[1] - bounds[0] + 1 : bounds.count
        }
        var online: [Int] = []
        for name in ["vcpu-list-1", "vcpu-list-2", "vcpu-list-4", "vcpu-list-back-to-1"] {
            online.append(try XLParse.vcpuList(XLCapture(name).stdout).filter(\.isOnline).count)
        }
        #expect(seen.map(count) == online)
        #expect(console.contains("DOMU_PCI=[0000:00:00.0:0x8086:0x100e ]"), "the passed-through e1000 in the guest")
    }

    @Test func vcpuListAcceptsTheOldSingleAffinityHeader() throws {
        let text = "Name                                ID  VCPU   CPU State   Time(s) CPU Affinity\n"
        #expect(throws: XLParseError.self) { try XLParse.vcpuList(text) }
        let old =
            "Name                                ID  VCPU   CPU State   Time(s) Affinity\n"
            + "guest1                               1     0    1   -b-       3.5  0-1\n"
        let row = try #require(try XLParse.vcpuList(old).first)
        #expect(row.hardAffinity == CPUSet(cpus: [0, 1]) && row.softAffinity == nil && row.cpu == 1)
    }

    @Test(
        arguments: [
            ("", nil), ("garbage", 1), ("guest1 1 0 0 -b- 3.1 all / all", 1),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 0", 2),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 0 - -b- 3.1 all / all", 2),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 0 0 --p 3.1 all / all", 2),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 0 - -bp 3.1 all / all", 2),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 0 0 xb- 3.1 all / all", 2),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 0 0 -b- 3.1 all all all", 2),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nguest1 1 x 0 -b- 3.1 all / all", 2),
            ("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\n1 0 0 -b- 3.1 all / all", 2),
        ] as [(String, Int?)]
    ) func vcpuListRejectsMalformedText(_ text: String, lineNumber: Int?) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.vcpuList(text) }
        #expect(error?.command == "xl vcpu-list")
        #expect(error?.lineNumber == lineNumber)
        #expect(error?.pointsIntoText(text) == true)
    }

    // MARK: xl pci-list, pci-assignable-list

    @Test func pciListBeforeDuringAndAfterAttach() throws {
        #expect(try XLCapture("pci-list-empty").stdout.isEmpty, "xl prints nothing, not even a header")
        #expect(try XLParse.pciList(XLCapture("pci-list-empty").stdout).isEmpty)
        let rows = try XLParse.pciList(XLCapture("pci-list").stdout)
        let e1000 = try PCIAddress.parse("0000:00:04.0").get()
        #expect(rows == [XLPCIListRow(vdev: "00.0", virtualSlot: 0, virtualFunction: 0, address: e1000)])
        #expect(try XLParse.pciList(XLCapture("pci-list-after-detach").stdout).isEmpty)
        #expect(try XLParse.pciList(XLCapture("noiommu-pci-list").stdout).isEmpty, "the failed attach left nothing")
    }

    @Test func assignableListFollowsAddAttachAndDetach() throws {
        #expect(try XLParse.pciAssignableList(XLCapture("pci-assignable-list-empty").stdout).isEmpty)
        let listed = try XLParse.pciAssignableList(XLCapture("pci-assignable-list").stdout)
        #expect(listed.map(\.description) == ["0000:00:04.0"])
        #expect(try XLCapture("pci-assignable-list").stdout == "0000:00:04.0 \n", "xl leaves a space after the address")
        #expect(try XLParse.pciAssignableList(XLCapture("pci-assignable-list-while-attached").stdout).isEmpty)
        // Without an IOMMU the add fails (status 1), yet the device is listed.
        #expect(try XLCapture("noiommu-pci-assignable-add").status == 1)
        #expect(try XLParse.pciAssignableList(XLCapture("noiommu-pci-assignable-list").stdout) == listed)
    }

    @Test func assignableListWithNamesAndSeveralDevices() throws {
        let text = "0000:00:04.0 nic0\n0000:03:00.1 \n"
        #expect(try XLParse.pciAssignableList(text).map(\.description) == ["0000:00:04.0", "0000:03:00.1"])
    }

    @Test(
        arguments: [
            ("Vdev Device\n00.0", 2), ("Vdev Device\nzz.0 0000:00:04.0", 2), ("Vdev Device\n00.0 0000:00:04", 2),
            ("Vdev Device\n00.0 0000:00:04.0 extra", 2), ("Vdev Device\n0.0 0000:00:04.0", 2),
            ("Vdev Device\n20.0 0000:00:04.0", 2), ("Vdev Device\n00.8 0000:00:04.0", 2), ("garbage", 1),
            ("00.0 0000:00:04.0", 1),
        ] as [(String, Int)]
    ) func pciListRejectsMalformedText(_ text: String, lineNumber: Int) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.pciList(text) }
        #expect(error?.command == "xl pci-list")
        #expect(error?.lineNumber == lineNumber)
        #expect(error?.pointsIntoText(text) == true)
    }

    @Test(
        arguments: [
            ("0000:00:04", 1), ("garbage", 1), ("0000:00:04.9", 1), ("0000:00:04.0\n0000:00:05.0 a b", 2),
            ("0000:00:04.0\nzzzz:00:05.0", 2), ("-1:00.0", 1),
        ] as [(String, Int)]
    ) func assignableListRejectsMalformedText(_ text: String, lineNumber: Int) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.pciAssignableList(text) }
        #expect(error?.command == "xl pci-assignable-list")
        #expect(error?.lineNumber == lineNumber)
        #expect(error?.pointsIntoText(text) == true)
    }

    // MARK: xl network-list, xenstore-read

    @Test func networkListOneVif() throws {
        let rows = try XLParse.networkList(XLCapture("network-list-1").stdout)
        #expect(
            rows == [
                XLNetworkRow(
                    idx: 0,
                    backendDomid: 0,
                    mac: "00:16:3e:00:00:02",
                    handle: 0,
                    state: 4,
                    eventChannel: nil,
                    txRingRef: 520,
                    rxRingRef: 521,
                    backendPath: "/local/domain/0/backend/vif/1/0"
                )
            ]
        )
        #expect(rows.first?.xenbusState == .connected)
    }

    @Test func networkListAfterAttachAndDetach() throws {
        let two = try XLParse.networkList(XLCapture("network-list-2").stdout)
        #expect(two.map(\.mac) == ["00:16:3e:00:00:02", "00:16:3e:00:00:03"])
        #expect(two.map(\.idx) == [0, 1])
        #expect(two.map(\.handle) == [0, 1])
        #expect(two.last?.txRingRef == 1034 && two.last?.rxRingRef == 1035)
        #expect(two.last?.backendPath == "/local/domain/0/backend/vif/1/1")
        #expect(two.allSatisfy { $0.xenbusState == .connected && $0.eventChannel == nil })
        let after = try XLParse.networkList(XLCapture("network-list-after-detach").stdout)
        #expect(after == (try XLParse.networkList(XLCapture("network-list-1").stdout)))
    }

    /// `evt-ch` is -1 because netfront negotiated split event channels: xenstore has event-channel-tx, not
    /// event-channel.
    @Test func eventChannelIsSplitAsXenstoreSays() throws {
        let domid = try XLParse.domid(XLCapture("domid").stdout)
        #expect(domid == 1)
        let split = try XLParse.xenstoreRead(XLCapture("xenstore-read-feature-split-event-channels").stdout)
        #expect(split == "1")
        let tx = try XLParse.xenstoreRead(XLCapture("xenstore-read-event-channel-tx").stdout)
        #expect(Int(tx) == 9)
        let vif = try #require(try XLParse.networkList(XLCapture("network-list-1").stdout).first)
        #expect(vif.eventChannel == nil)
        #expect(vif.backendPath == "/local/domain/0/backend/vif/\(domid)/0")
    }

    @Test func xenstoreReadOfAMissingPath() throws {
        let capture = try XLCapture("xenstore-read-nonexistent")
        #expect(capture.status == 1)
        #expect(throws: XLParseError.self) { try XLParse.xenstoreRead(capture.stdout) }
        let message = try #require(XLParse.stderr(capture.stderr).primaryProblem)
        #expect(message.kind == .xenstorePathUnreadable("/local/domain/1/device/vif/9/event-channel-tx"))
        #expect(try XLParse.xenstoreRead("\n") == "", "an empty value")
        #expect(throws: XLParseError.self) { try XLParse.xenstoreRead("1\n2\n") }
        #expect(throws: XLParseError.self) { try XLParse.xenstoreRead("1") }
    }

    @Test(
        arguments: [
            ("", nil), ("garbage", 1), ("Idx BE Mac Addr. handle state evt-ch tx-/rx-ring-ref\n", 1),
            (networkHeader + "0   0  00:16:3e:00:00:02     0", 2),
            (networkHeader + "0 0 00:16:3e:00:00 0 4 -1 520/521 /l/d/0", 2),
            (networkHeader + "0 0 00:16:3e:00:00:0g 0 4 -1 520/521 /l", 2),
            (networkHeader + "0 0 00:16:3e:00:00:02 0 4 -1 520 /l", 2),
            (networkHeader + "0 0 00:16:3e:00:00:02 0 4 -2 520/521 /l", 2),
            (networkHeader + "0 0 00:16:3e:00:00:02 0 4 -1 520/521 x", 2),
            (networkHeader + "-1 0 00:16:3e:00:00:02 0 4 -1 1/2 /l", 2),
        ] as [(String, Int?)]
    ) func networkListRejectsMalformedText(_ text: String, lineNumber: Int?) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.networkList(text) }
        #expect(error?.command == "xl network-list")
        #expect(error?.lineNumber == lineNumber)
        #expect(error?.pointsIntoText(text) == true)
    }

    @Test func networkListOfAGuestWithoutInterfacesIsEmpty() throws {
        let header = try XLCapture("network-list-1").stdout.split(separator: "\n")[0] + "\n"
        #expect(try XLParse.networkList(String(header)).isEmpty)
    }

    @Test(arguments: ["", "\n", "guest1", "1\n2\n", "-1\n", "1 2\n"]) func domidRejectsMalformedText(_ text: String) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.domid(text) }
        #expect(error?.command == "xl domid")
        #expect(error?.pointsIntoText(text) == true)
    }

    @Test func errorDescriptionNamesCommandLineAndText() {
        let error = expectParseError { () throws(XLParseError) in try XLParse.domid("guest1\n") }
        #expect(error?.description == "xl domid: line 1: expected one line with a domain id: 'guest1'")
        let whole = expectParseError { () throws(XLParseError) in try XLParse.list("") }
        #expect(whole?.description == "xl list: empty output; xl prints a header first")
    }

    // MARK: stderr

    @Test("save, restore, migrate and reboot print only progress; what fails is explained")
    func saveMigrateRebootAndMemory() throws {
        for name in ["save", "restore", "migrate-pvh", "reboot", "mem-set-96", "mem-max-112"] {
            let capture = try XLCapture(name)
            #expect(capture.status == 0)
            #expect(XLParse.stderr(capture.stderr).messages.allSatisfy { $0.kind == .progress }, "\(name)")
        }
        let migration = XLParse.stderr(try XLCapture("migrate-pv-no-shadow").stderr)
        #expect(migration.primaryProblem?.kind == .logDirtyUnsupported)
        #expect(migration.summary?.contains("shadow paging") == true)
        let above = XLParse.stderr(try XLCapture("mem-set-above-max").stderr)
        #expect(above.primaryProblem?.kind == .memoryAboveMaximum)
        let ballooned = try XLParse.list(try XLCapture("list-ballooned").stdout)
        #expect(ballooned.map(\.memoryMiB) == [96], "after xl mem-set guest-pv 96m, from 128M")
    }

    @Test func vcpuSetAboveMaxvcpus() throws {
        let capture = try XLCapture("vcpu-set-i-5")
        #expect(capture.status == 1)
        let stderr = XLParse.stderr(capture.stderr)
        #expect(stderr.messages.map(\.kind) == [.vcpusAboveMaximum(requested: 5, maximum: 4), .consequence])
        #expect(stderr.summary == "asked for 5 vCPUs; the guest's maxvcpus is 4")
        let first = try #require(stderr.messages.first)
        #expect(first.libxlLevel == "error")
        #expect(first.lineNumber == 1)
        #expect(first.text.hasPrefix("libxl: error: libxl_domain.c:1869:libxl_set_vcpuonline: Domain 1:Requested 5"))
    }

    /// Without `-i`, xl's overcommit check comes first: on 2 physical CPUs, `vcpu-set NAME 5` never reaches the
    /// maxvcpus check.
    @Test(arguments: [("vcpu-set-4-overcommit", 4), ("vcpu-set-5", 5)]) func vcpuSetOvercommit(
        _ name: String,
        requested: Int
    ) throws {
        let capture = try XLCapture(name)
        #expect(capture.status == 1)
        let stderr = XLParse.stderr(capture.stderr)
        #expect(stderr.messages.map(\.kind) == [.overcommit(physicalCPUs: 2, requestedVCPUs: requested)])
        #expect(stderr.summary == "asked for \(requested) vCPUs on a host with 2 physical CPUs; xl refuses without -i")
        #expect(stderr.messages.first?.text.contains("You are overcommmitting!") == true, "xl's spelling, three m")
        #expect(stderr.messages.first?.libxlLevel == nil)
    }

    @Test(arguments: ["list-nonexistent", "destroy-nonexistent", "noiommu-vcpu-list-nonexistent"]) func noSuchDomain(
        _ name: String
    ) throws {
        let capture = try XLCapture(name)
        #expect(capture.status == 1)
        let stderr = XLParse.stderr(capture.stderr)
        #expect(stderr.messages.map(\.kind) == [.noSuchDomain("nosuchguest")])
        #expect(stderr.summary == "no such domain: nosuchguest")
        #expect(stderr.messages.first?.text == "nosuchguest is an invalid domain identifier (rc=-6)")
    }

    @Test func pciAttachWithoutIOMMU() throws {
        let capture = try XLCapture("noiommu-pci-attach")
        #expect(capture.status == 1)
        let stderr = XLParse.stderr(capture.stderr)
        #expect(
            stderr.messages.map(\.kind) == [.pciResetUnsupported("0000:00:04.0"), .noIOMMU, .consequence, .consequence]
        )
        #expect(stderr.summary == "the host has no IOMMU for passthrough")
        #expect(stderr.primaryProblem?.lineNumber == 2)
        #expect(stderr.primaryProblem?.text.hasSuffix("xc_assign_device failed: Operation not supported") == true)
    }

    /// The reset notice is logged as `libxl: error:` on successful attaches and detaches too.
    @Test(arguments: ["pci-attach", "pci-detach"]) func pciResetNoticeIsHarmless(_ name: String) throws {
        let capture = try XLCapture(name)
        #expect(capture.status == 0)
        let stderr = XLParse.stderr(capture.stderr)
        #expect(stderr.messages.map(\.kind) == [.pciResetUnsupported("0000:00:04.0")])
        #expect(stderr.messages.first?.libxlLevel == "error")
        #expect(stderr.messages.allSatisfy { $0.isHarmless })
        #expect(stderr.summary == nil)
    }

    @Test func otherKnownFailures() throws {
        let quarantine = XLParse.stderr(try XLCapture("noiommu-pci-assignable-add").stderr)
        #expect(quarantine.primaryProblem?.kind == .quarantineFailed("0000:00:04.0"))
        let passthrough = XLParse.stderr(try XLCapture("noiommu-create-passthrough-enabled").stderr)
        #expect(passthrough.messages.map(\.kind) == [.progress, .passthroughUnsupported])
        #expect(passthrough.summary == "the guest asks for PCI passthrough but the host has no IOMMU")
        let duplicate = XLParse.stderr(try XLCapture("noiommu-create-duplicate").stderr)
        #expect(
            duplicate.messages.map(\.kind) == [
                .progress, .domainNameInUse("guest1"), .consequence, .consequence, .consequence, .consequence,
            ]
        )
        #expect(duplicate.summary == "a domain named guest1 already exists")
    }

    @Test func progressLinesAreHarmless() throws {
        let shutdown = XLParse.stderr(try XLCapture("shutdown-w").stderr)
        #expect(shutdown.messages.map(\.kind) == [.progress, .progress, .progress])
        #expect(shutdown.primaryProblem == nil)
        let rebind = XLParse.stderr(try XLCapture("pci-assignable-remove").stderr)
        #expect(rebind.messages.first?.libxlLevel == "info")
        #expect(rebind.messages.first?.kind == .progress)
        #expect(XLParse.stderr(try XLCapture("create").stderr).messages.map(\.kind) == [.progress])
    }

    @Test func unknownStderrIsKeptVerbatim() {
        let stderr = XLParse.stderr(
            "Parsing config from /x.cfg\nsomething new went wrong\n\nlibxl: error: a.c:1:f: odd\n"
        )
        #expect(stderr.messages.map(\.kind) == [.progress, .unrecognized, .unrecognized])
        #expect(stderr.messages.map(\.lineNumber) == [1, 2, 4])
        #expect(stderr.summary == "something new went wrong")
        #expect(stderr.messages.last?.libxlLevel == "error")
        let orphan = XLParse.stderr("libxl_set_vcpuonline failed domid=1 max_vcpus=5, rc: -3\n")
        #expect(orphan.messages.map(\.kind) == [.consequence])
        #expect(
            orphan.summary == "libxl_set_vcpuonline failed domid=1 max_vcpus=5, rc: -3",
            "a failure is never silent"
        )
        #expect(XLParse.stderr("").messages.isEmpty)
        #expect(XLParse.stderr("").summary == nil)
    }
}
