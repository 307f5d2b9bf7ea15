import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestBackends
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

extension Result {
    /// The success value, or nil.
    var parsedValue: Success? { try? get() }

    /// The failure's message, or nil.
    var failureMessage: String? {
        guard case .failure(let error) = self else { return nil }
        return "\(error)"
    }
}

@Suite("Plan values: durations, memory sizes, PCI addresses, versions") struct ValuesTests {
    // MARK: PlanDuration

    @Test(arguments: [
        ("1ms", 1), ("500ms", 500), ("30s", 30_000), ("2m", 120_000), ("1h", 3_600_000), ("86400000ms", 86_400_000),
        ("86400s", 86_400_000), ("1440m", 86_400_000), ("24h", 86_400_000),
    ]) func durationParses(_ text: String, milliseconds: Int) throws {
        let duration = try #require(PlanDuration.parse(text).parsedValue, "\(text)")
        #expect(duration.milliseconds == milliseconds)
        #expect(duration.duration == .milliseconds(milliseconds))
        #expect(PlanDuration.parse(duration.description).parsedValue == duration, "description must parse back")
    }

    @Test(arguments: ["", "10", "s", "ms", "1.5s", "-5s", "5 s", " 5s", "2d", "1H", "5sec", "99999999999999999999999s"])
    func durationRejectsText(_ text: String) {
        #expect(
            PlanDuration.parse(text).failureMessage
                == "'\(text)' is not a duration; write a number and a unit: 500ms, 30s, 2m, 1h"
        )
    }

    @Test(arguments: ["0ms", "0s", "0m", "0h"]) func durationRejectsZero(_ text: String) {
        #expect(PlanDuration.parse(text).failureMessage == "'\(text)' must be longer than zero")
    }

    @Test(arguments: ["86400001ms", "86401s", "1441m", "25h", "9999999h"]) func durationRejectsMoreThanADay(
        _ text: String
    ) { #expect(PlanDuration.parse(text).failureMessage == "'\(text)' is longer than a day") }

    @Test(arguments: [
        (0, "0s"), (1, "1ms"), (1_500, "1500ms"), (30_000, "30s"), (90_000, "90s"), (120_000, "2m"), (5_400_000, "90m"),
        (7_200_000, "2h"),
    ]) func durationDescriptionIsTheShortestExactForm(_ milliseconds: Int, _ expected: String) {
        #expect(PlanDuration(milliseconds: milliseconds).description == expected)
    }

    // MARK: MemorySize

    @Test(arguments: [
        ("1M", 1), ("256M", 256), ("512MiB", 512), ("1G", 1024), ("2GiB", 2048), ("16777216M", 16_777_216),
        ("16384G", 16_777_216), ("16384GiB", 16_777_216),
    ]) func memoryParses(_ text: String, mebibytes: Int) throws {
        let size = try #require(MemorySize.parse(text).parsedValue, "\(text)")
        #expect(size.mebibytes == mebibytes)
        #expect(MemorySize.parse(size.description).parsedValue == size, "description must parse back")
    }

    @Test(arguments: ["", "256", "M", "G", "0M", "0G", "-1G", "1.5G", "256m", "256MB", "1T", "1 G", "256Mi"])
    func memoryRejectsText(_ text: String) {
        #expect(
            MemorySize.parse(text).failureMessage
                == "'\(text)' is not a memory size; write a number and M or G, such as 256M or 1G"
        )
    }

    @Test(arguments: ["16777217M", "16385G", "16385GiB", "999999999999G"]) func memoryRejectsMoreThan16TiB(
        _ text: String
    ) { #expect(MemorySize.parse(text).failureMessage == "'\(text)' is more than 16 TiB") }

    @Test func memoryDescription() {
        #expect(MemorySize(mebibytes: 256).description == "256M")
        #expect(MemorySize(mebibytes: 1024).description == "1G")
        #expect(MemorySize(mebibytes: 1536).description == "1536M")
        #expect(MemorySize(mebibytes: 3072).description == "3G")
    }

    // MARK: PCIAddress

    @Test(arguments: [
        ("0000:03:00.0", "0000:03:00.0", 0, 3, 0, 0), ("03:00.0", "0000:03:00.0", 0, 3, 0, 0),
        ("0:3:0.1", "0000:03:00.1", 0, 3, 0, 1), ("0000:00:1f.7", "0000:00:1f.7", 0, 0, 0x1F, 7),
        ("0000:0A:1F.3", "0000:0a:1f.3", 0, 0x0A, 0x1F, 3), ("ffff:ff:1f.7", "ffff:ff:1f.7", 0xFFFF, 0xFF, 0x1F, 7),
        ("0001:81:00.0", "0001:81:00.0", 1, 0x81, 0, 0),
    ]) func pciAddressParses(
        _ text: String,
        _ canonical: String,
        _ domain: Int,
        _ bus: Int,
        _ device: Int,
        _ function: Int
    ) throws {
        let address = try #require(PCIAddress.parse(text).parsedValue, "\(text)")
        #expect(address == PCIAddress(domain: domain, bus: bus, device: device, function: function))
        #expect(address.description == canonical)
        #expect(PCIAddress.parse(address.description).parsedValue == address)
    }

    @Test(arguments: [
        "0000:03:00.8", "03:20.0", "zz:00.0", "1:2:3:4.0", "", "03:00", "03.00.0", "03:00.0.1", "10000:00:00.0",
        "0000:100:00.0", "0000:03:000.0", "0000:03:00.10", "03:00.", ":00.0", "0000::00.0", "-1:00.0", "+3:00.0",
        "03:-0.0", " 03:00.0", "03:00.0 ", "0x3:00.0", "０3:00.0",
    ]) func pciAddressRejects(_ text: String) {
        #expect(
            PCIAddress.parse(text).failureMessage
                == "'\(text)' is not a PCI address; write it as 0000:03:00.0 (domain:bus:device.function)"
        )
    }

    @Test func pciAddressNamesAndOrder() throws {
        let address = try #require(PCIAddress.parse("0000:3b:1f.2").parsedValue)
        #expect(address.libvirtNodeDeviceName == "pci_0000_3b_1f_2")
        let sorted = ["0001:00:00.0", "0000:03:00.1", "0000:03:00.0", "0000:02:1f.7"]
            .compactMap { PCIAddress.parse($0).parsedValue }.sorted()
        #expect(sorted.map(\.description) == ["0000:02:1f.7", "0000:03:00.0", "0000:03:00.1", "0001:00:00.0"])
    }

    // MARK: Version

    @Test(arguments: [
        ("4", [4]), ("4.17", [4, 17]), ("4.17.2", [4, 17, 2]), ("4.3.0-rc6", [4, 3, 0]), ("4.17.2+dirty", [4, 17, 2]),
        ("4.17.3-pre", [4, 17, 3]), ("4.17 (built by ci)", [4, 17]), ("1.2.3.4", [1, 2, 3, 4]),
    ]) func versionParses(_ text: String, _ components: [Int]) throws {
        let version = try #require(Version(text), "\(text)")
        #expect(version.components == components)
    }

    @Test(arguments: ["", "x", "4.x", "4..3", ".4", "4.", "-1", "v4.17", "1.2.3.4.5", "-rc6"]) func versionRejects(
        _ text: String
    ) { #expect(Version(text) == nil) }

    @Test func versionsCompareNumerically() throws {
        func v(_ text: String) throws -> Version { try #require(Version(text)) }
        #expect(try v("4.3") < v("4.3.1"))
        #expect(try v("4.9") < v("4.10"))
        #expect(try v("4.17.2") > v("4.17"))
        #expect(try v("4.3.0-rc6") < v("4.4"))
        #expect(try !(v("4.3") < v("4.3.0")) && !(v("4.3.0") < v("4.3")))
        // Trailing zeros do not make a different version, for == and for hashing alike.
        #expect(try v("4.3") == v("4.3.0"))
        #expect(try v("4.3.0-rc6") == v("4.3"))
        #expect(try v("4.3") != v("4.3.1"))
        #expect(try Set([v("4.17"), v("4.17.0"), v("4.17.0.0")]).count == 1)
        #expect(
            try [v("4.10"), v("4.2"), v("4.17.1"), v("4.17")].sorted().map(\.description) == [
                "4.2", "4.10", "4.17", "4.17.1",
            ]
        )
    }

    // MARK: VersionRange

    @Test func versionRangeParsesAndNormalises() throws {
        let range = try #require(VersionRange.parse(">=4.3,<  4.5").parsedValue)
        #expect(range.description == ">= 4.3, < 4.5")
        #expect(range.bounds.map(\.comparison) == [">=", "<"])
        #expect(VersionRange.parse(range.description).parsedValue == range)
    }

    @Test(arguments: [
        (">= 4.3, < 4.5", "4.3", true), (">= 4.3, < 4.5", "4.3.0-rc6", true), (">= 4.3, < 4.5", "4.4.9", true),
        (">= 4.3, < 4.5", "4.5", false), (">= 4.3, < 4.5", "4.2.9", false), (">= 4.3, < 4.5", "4.10", false),
        ("< 4.4", "4.3.0", true), ("< 4.4", "4.4.0", false), ("<= 4.3", "4.3.0", true), ("<= 4.3", "4.3.1", false),
        ("> 4.3", "4.3.0", false), ("> 4.3", "4.3.1", true), ("== 4.17", "4.17.0", true), ("== 4.17", "4.17", true),
        ("== 4.17", "4.17.1", false), ("== 4.17.0", "4.17", true),
    ]) func versionRangeContains(_ rangeText: String, _ versionText: String, _ expected: Bool) throws {
        let range = try #require(VersionRange.parse(rangeText).parsedValue)
        let version = try #require(Version(versionText))
        #expect(range.contains(version) == expected)
    }

    @Test(arguments: [
        ("4.3", "'4.3' must start with <, <=, >, >= or =="), ("=> 4.3", "'=> 4.3' must start with <, <=, >, >= or =="),
        ("= 4.3", "'= 4.3' must start with <, <=, >, >= or =="),
        ("!= 4.3", "'!= 4.3' must start with <, <=, >, >= or =="),
        (">= 4.3, 4.5", "'4.5' must start with <, <=, >, >= or =="),
        (">= four", "'four' is not a version such as 4.3 or 4.17.2"),
        ("> = 4.3", "'= 4.3' is not a version such as 4.3 or 4.17.2"),
        (">=", "'' is not a version such as 4.3 or 4.17.2"), ("", "a version range such as '>= 4.3' is needed"),
        (",,", "a version range such as '>= 4.3' is needed"),
        (
            ">=4.17 <4.18",
            "'>=4.17 <4.18' has '<4.18' after its version; join comparisons with a comma: '>= 4.17, < 4.18'"
        ),
        (
            ">= 4.17 && < 4.18",
            "'>= 4.17 && < 4.18' has '&& < 4.18' after its version; join comparisons with a comma: '>= 4.17, < 4.18'"
        ),
        (
            ">= 4.17 junk",
            "'>= 4.17 junk' has 'junk' after its version; a bound is one comparison and one version: '>= 4.17'"
        ),
        (
            ">= 4.17<4.18",
            "'>= 4.17<4.18' has '<4.18' after its version; join comparisons with a comma: '>= 4.17, < 4.18'"
        ),
    ]) func versionRangeRejects(_ text: String, _ message: String) {
        #expect(VersionRange.parse(text).failureMessage == message)
    }

    // MARK: CPUSet

    @Test(
        arguments: [
            ("all", nil, "all"), ("1", [1], "1"), ("0-3", [0, 1, 2, 3], "0-3"), ("0,2-3", [0, 2, 3], "0,2-3"),
            ("3,0,1", [0, 1, 3], "0-1,3"), ("2-2", [2], "2"), (" 1 ", [1], "1"), ("4095", [4095], "4095"),
        ] as [(String, Set<Int>?, String)]
    ) func cpuSetParses(_ text: String, cpus: Set<Int>?, shortest: String) throws {
        let set = try #require(CPUSet.parse(text).parsedValue)
        #expect(set.cpus == cpus)
        #expect(set.description == shortest)
    }

    @Test(arguments: ["", "^1", "nodes:0", "1-", "-1", "3-1", "1,,2", "a", "4096", "0x1", "1.5", "ALL"])
    func cpuSetRejects(_ text: String) {
        #expect(CPUSet.parse(text).failureMessage?.contains("is not a set of CPUs") == true, "\(text)")
    }

    @Test func cpuSetEveryCPUOfTheHostIsAll() {
        #expect(CPUSet(cpus: [0, 1]).normalized(hostCPUs: 2) == .all)
        #expect(CPUSet(cpus: [1]).normalized(hostCPUs: 2) == CPUSet(cpus: [1]))
        #expect(CPUSet(cpus: [0, 1]).normalized(hostCPUs: 4) == CPUSet(cpus: [0, 1]))
        #expect(CPUSet.all.highest == nil && CPUSet(cpus: [0, 5]).highest == 5)
    }
}
