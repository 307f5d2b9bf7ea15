import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// xl.cfg(5) of Xen 4.17 as the lab's Debian package installs it (`xentest lab up` unpacks it).
let xen417ManPage =
    NSHomeDirectory()
    + "/.cache/xentest/packages/unpacked/xen-utils-common_4.17.7+13-g2445b30a44-0+deb12u1_amd64/usr/share/man/man5/"
    + "xl.cfg.5.gz"

/// A plan whose one case has an HVM guest with `xlConfig` (YAML flow or block text after `xl-config:`).
func xlConfigPlan(_ xlConfig: String, type: String = "hvm") -> String {
    """
    release: 4.17.0
    title: xl-config
    cases:
      - id: one
        title: One
        area: xl-config
        guest:
          type: \(type)
          xl-config: \(xlConfig)
        steps:
          - create:
          - destroy:
    """
}

@Suite("xl-config: extra xl.cfg keys of a guest") struct XLConfigTests {
    @Test func aMapLoadsInPlanOrderWithItsValuesTyped() throws {
        let outcome = try loadPlanText(
            xlConfigPlan(#"{viridian: [base, freq], hap: true, vga: stdvga, videoram: 64, vnclisten: "0.0.0.0"}"#)
        )
        let guest = try #require(outcome.plan?.cases.first?.guest, "\(outcome.lines)")
        #expect(guest.xlConfig.map(\.key) == ["viridian", "hap", "vga", "videoram", "vnclisten"])
        #expect(
            guest.xlConfig.map(\.value) == [
                .list(["base", "freq"]), .boolean(true), .string("stdvga"), .integer(64), .string("0.0.0.0"),
            ]
        )
        #expect(outcome.lines.isEmpty)
    }

    @Test func everyProblemIsReportedAtItsKeyOrValue() throws {
        let outcome = try loadPlanText(
            xlConfigPlan(
                """

                        viridain: 1
                        memory: 512
                        on_reboot: destroy
                        frobnicate: 2
                        vga: "stdvga\\nmemory = 4096"
                        cpuid: {leaf: 1}
                        device_model_args: [-S, [nested]]
                        hap:
                """
            )
        )
        #expect(outcome.plan == nil)
        expectLines(
            outcome.lines,
            [
                "plan.yaml:10:9: error: unknown xl.cfg key 'viridain' in xl-config; did you mean 'viridian'?",
                "plan.yaml:11:9: error: xl-config cannot set 'memory', which xentest writes itself: use the guest's "
                    + "'memory:'",
                "plan.yaml:12:9: error: xl-config cannot set 'on_reboot', which xentest writes itself: xentest sets "
                    + "on_poweroff, on_reboot and on_crash: its shutdown and reboot steps rely on them",
                "plan.yaml:13:9: error: unknown xl.cfg key 'frobnicate' in xl-config: xl.cfg(5) of Xen 4.17 does not "
                    + "document it",
                "plan.yaml:14:14: error: xl-config 'vga' must not contain a line break: xl.cfg takes one key a line",
                "plan.yaml:15:16: error: xl-config 'cpuid' must be a string, a number, true/false or a list of "
                    + "strings, not a mapping",
                "plan.yaml:16:33: error: each item of xl-config 'device_model_args' must be a string or a number, "
                    + "not a list", "plan.yaml:17:13: error: xl-config 'hap' has no value",
            ]
        )
    }

    @Test func xlConfigMustBeAMapping() throws {
        let outcome = try loadPlanText(xlConfigPlan("[viridian]"))
        expectLines(outcome.lines, ["plan.yaml:9:18: error: xl-config must be a mapping of names, not a list"])
    }

    /// The committed key list is what scripts/xl-cfg-keys reads from the man page now: a drift shows here.
    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: xen417ManPage),
            "no xl.cfg(5) of Xen 4.17 on this machine (`xentest lab up` unpacks it)"
        )
    ) func theKeyListIsTheManPages() async throws {
        let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/xl-cfg-keys").path
        let result = try await LocalCommandRunner().run(["bash", script, xen417ManPage], timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        let keys = result.stdout.split(separator: "\n").map(String.init)
        let regenerate = "regenerate: scripts/xl-cfg-keys --swift > Sources/XentestPlan/XLConfigKeys.swift"
        #expect(keys == XLConfigKeys.documented, "\(regenerate)")
        // Sub-keys of spec strings are left out; options of the HVM and PV sections are in.
        #expect(!keys.contains("vdev") && !keys.contains("pnode") && !keys.contains("vdistances"))
        for key in ["viridian", "hap", "device_model_version", "vga", "videoram", "bootloader", "e820_host"] {
            #expect(keys.contains(key), "\(key)")
        }
    }

    static func guest(_ type: GuestType, _ settings: [(String, XLConfigValue)]) -> GuestInstance {
        var spec = GuestRendererTests.spec("g", type)
        spec.xlConfig = settings.map { XLConfigSetting(key: $0.0, value: $0.1) }
        return GuestInstance(domainName: "xentest-r1-one", spec: spec, host: GuestRendererTests.labHost)
    }

    @Test func xlWritesTheKeysAfterItsOwnAndTheDisplayReplacesItsDefault() {
        let config = XLConfigRenderer.render(
            Self.guest(
                .hvm,
                [
                    ("viridian", .list(["base", "freq"])), ("vga", .string("stdvga")), ("videoram", .integer(16)),
                    ("hap", .boolean(false)), ("rtc_timeoffset", .integer(-3600)),
                    ("device_model_args", .list(["-name", #"a "b" \c"#])),
                ]
            )
        )
        let lines = config.split(separator: "\n").map(String.init)
        #expect(!lines.contains("vga = \"none\"") && lines.contains("vnc = 0") && lines.contains("sdl = 0"))
        let tail = Array(lines.drop { $0 != "# The plan's xl-config" })
        #expect(
            tail == [
                "# The plan's xl-config", #"viridian = [ "base", "freq" ]"#, #"vga = "stdvga""#, "videoram = 16",
                "hap = 0", #"rtc_timeoffset = "-3600""#, #"device_model_args = [ "-name", "a \"b\" \\c" ]"#,
            ]
        )
        #expect(lines.firstIndex(of: "on_crash = \"destroy\"")! < lines.firstIndex(of: "# The plan's xl-config")!)
    }

    @Test func libvirtMapsWhatItsLibxlDriverReads() {
        let guest = Self.guest(
            .hvm,
            [("hap", .integer(1)), ("pae", .boolean(true)), ("acpi", .integer(0)), ("vga", .string("stdvga"))]
        )
        #expect(XLConfigMapping.unmappedKeys(guest.spec).isEmpty)
        let xml = DomainXMLRenderer.render(guest, dialect: .xen)
        #expect(xml.contains("  <features>\n    <apic/>\n    <pae/>\n    <hap state='on'/>\n  </features>"), "\(xml)")
        #expect(xml.contains("    <video><model type='vga' vram='16384'/></video>\n  </devices>"), "\(xml)")
        let cirrus = DomainXMLRenderer.render(Self.guest(.hvm, [("videoram", .integer(32))]), dialect: .xen)
        #expect(cirrus.contains("<video><model type='cirrus' vram='32768'/></video>"), "\(cirrus)")
        let none = DomainXMLRenderer.render(Self.guest(.hvm, [("vga", .string("none"))]), dialect: .xen)
        #expect(!none.contains("<video>"))
    }

    @Test func keysWithoutAnEquivalentForTheGuestAreUnmapped() {
        let hvm = Self.guest(.hvm, [("viridian", .integer(1)), ("vga", .string("stdvga")), ("nestedhvm", .integer(1))])
        #expect(XLConfigMapping.unmappedKeys(hvm.spec) == ["viridian", "nestedhvm"])
        // On PV, libvirt's libxl driver reads neither hap nor a video card; a value it cannot hold does not map.
        let pv = Self.guest(.pv, [("hap", .integer(1)), ("vga", .string("stdvga"))])
        #expect(XLConfigMapping.unmappedKeys(pv.spec) == ["hap", "vga"])
        let odd = Self.guest(.hvm, [("hap", .string("maybe")), ("vga", .string("vmware"))])
        #expect(XLConfigMapping.unmappedKeys(odd.spec) == ["hap", "vga"])
    }

    @Test("on libvirt's test driver: an unmappable key skips the case with its reason, mappable ones run")
    func libvirtSkipsWhatItCannotExpress() async throws {
        let plan = try inlinePlan(
            """
            release: test
            title: xl-config on libvirt
            cases:
              - id: viridian
                title: Viridian
                area: xl-config
                guest: {type: hvm, xl-config: {viridian: 1, vga: stdvga, videoram: 16}}
                steps:
                  - create:
                  - destroy:
              - id: display
                title: A standard VGA card, HAP on
                area: xl-config
                guest: {type: hvm, xl-config: {hap: 1, vga: stdvga, videoram: 16}}
                steps:
                  - create:
                  - list:
                    expect: {state: running}
                  - destroy:
            """
        )
        let run = try await TestDriverRun.run(plan)
        #expect(run.status("viridian") == .skip)
        #expect(run.reason("viridian") == "xl-config keys with no libvirt mapping: viridian; runs on xl only")
        #expect(run.status("display") == .pass, "\(run.reason("display"))")
        #expect(try run.leftoverDomains().isEmpty)
    }
}
