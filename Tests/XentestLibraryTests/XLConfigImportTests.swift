import Foundation
import Testing
@testable import XentestPlan

/// Xen's example configs under `Fixtures/xl-configs/` (see its README): the xl ones, and the xm ones xl still takes.
let xenExampleConfigs = [
    "xlexample.hvm", "xlexample.pvlinux", "xlexample.pvhlinux", "xmexample1", "xmexample.hvm", "xmexample.hvm-stubdom",
    "xmexample.pv-grub", "xmexample.nbd",
]

/// The text of the example config `name`.
func exampleConfig(_ name: String) throws -> String {
    try String(
        contentsOf: Fixtures.bundled.appendingPathComponent("xl-configs").appendingPathComponent(name),
        encoding: .utf8
    )
}

/// `text` read as a config named `file` and imported; the diagnostics' lines when it is refused.
func importConfig(_ text: String, file: String = "guest.cfg") -> Result<XLConfigImport, DiagnosticsError> {
    do { return .success(try XLConfigImport(XLConfigFile.parse(text, file: file))) } catch { return .failure(error) }
}

/// The diagnostics of a config xl would refuse, one a line; empty when it was read.
func configErrors(_ text: String, file: String = "guest.cfg") -> [String] {
    guard case .failure(let error) = importConfig(text, file: file) else { return [] }
    return error.diagnostics.map(\.description)
}

@Suite("xentest import: xl and xm configs as plan guests") struct XLConfigImportTests {
    @Test(arguments: xenExampleConfigs) func xensExamplesRead(_ name: String) throws {
        let result = importConfig(try exampleConfig(name), file: name)
        #expect(throws: Never.self) { try result.get() }
    }

    @Test func anXMExampleInPythonGivesEveryErrorAtOnce() throws {
        #expect(
            configErrors(try exampleConfig("xmexample2"), file: "xmexample2") == [
                "xmexample2:23:5: error: expected '=' after 'def', found 'vmid_check'",
                "xmexample2:23:15: note: this looks like Python: xm ran its config files as Python, xl reads only "
                    + "'key = value' lines (https://wiki.xen.org/wiki/PythonInXlConfig)",
                "xmexample2:24:11: error: expected a value for 'val', found 'int'",
                "xmexample2:25:8: error: expected '=' after 'if', found 'val'",
                "xmexample2:26:15: error: 'ValueError': xl.cfg keys are lowercase (letters, digits, '_' and '.')",
                "xmexample2:27:12: error: expected '=' after 'return', found 'val'",
                "xmexample2:30:12: error: xl cannot read '('vmid',': a line is 'key = value', the value a number, a "
                    + "\"string\" or a [list]",
                "xmexample2:31:62: error: expected the end of the line after the value of 'use', found ','",
                "xmexample2:32:19: error: expected a value for 'check', found 'vmid_check'",
                "xmexample2:35:14: error: xl cannot read '()': a line is 'key = value', the value a number, a "
                    + "\"string\" or a [list]",
                "xmexample2:56:15: error: xl cannot read '%': a line is 'key = value', the value a number, a "
                    + "\"string\" or a [list]",
                "xmexample2:102:29: error: xl cannot read '%': a line is 'key = value', the value a number, a "
                    + "\"string\" or a [list]",
                "xmexample2:103:10: error: expected a key at the start of a line, found 'phy:sda6,sda6,r'",
                "xmexample2:166:35: error: xl cannot read '%': a line is 'key = value', the value a number, a "
                    + "\"string\" or a [list]",
            ]
        )
    }

    @Test func anXMEraHVMConfig() throws {
        let imported = try importConfig(try exampleConfig("xmexample.hvm"), file: "xmexample.hvm").get()
        #expect(
            imported.guestYAML == """
                type: hvm
                memory: 128M
                nics: 1
                xl-config:
                  sdl: 0
                  opengl: 1
                  vnc: 1
                  vncpasswd: ""
                  stdvga: 0
                  tsc_mode: 0

                """
        )
        #expect(
            imported.notCarriedOver.map(\.description) == [
                "xmexample.hvm:11: kernel: xl ignores hvmloader as an HVM guest's kernel (it boots its own firmware)",
                "xmexample.hvm:33: name: xentest names the domain (xentest-RUN-CASE) so that teardown and 'xentest "
                    + "clean' find it", "xmexample.hvm:71: vif: 'bridge=xenbr0': the host file's 'bridge' names it",
                "xmexample.hvm:81: disk: 'file:/var/images/min-el3-i386.img,hda,w' (file:/var/images/min-el3-i386.img "
                    + "as hda, read-write): xentest gives a guest only empty images it makes and removes (disks: [SIZE])",
                "xmexample.hvm:81: disk: ',hdc:cdrom,r' (an empty drive hdc): xentest gives an HVM guest a CD-ROM "
                    + "drive only with a medium it makes (cdrom: SIZE)",
                "xmexample.hvm:128: device_model: xl ignores it (xl.cfg(5) has device_model_override); xentest uses "
                    + "the default",
            ]
        )
    }

    @Test func anXLConfig() throws {
        let imported = try importConfig(try exampleConfig("xlexample.pvlinux"), file: "xlexample.pvlinux").get()
        #expect(imported.guestYAML == "type: pv\nmemory: 128M\nvcpus: 2\nnics: 1\n")
        #expect(
            imported.notCarriedOver.map(\.description) == [
                "xlexample.pvlinux:9: name: xentest names the domain (xentest-RUN-CASE) so that teardown and 'xentest "
                    + "clean' find it", "xlexample.pvlinux:17: kernel: the host file's 'guest-kernel' names the kernel",
                "xlexample.pvlinux:23: extra: xentest writes the kernel command line (its console, then the host "
                    + "file's 'guest-cmdline')",
                "xlexample.pvlinux:44: disk: '/dev/vg/guest-volume,raw,xvda,rw' (/dev/vg/guest-volume as xvda, "
                    + "read-write): a plan names no host's device: xentest gives a guest empty images it makes "
                    + "(disks: [SIZE])",
            ]
        )
    }

    /// The printed guest, pasted under a case's `guest:`, loads back through the plan loader as the same guest.
    @Test(arguments: xenExampleConfigs + ["pci-and-more"]) func theGuestLoadsBackThroughThePlanLoader(_ name: String)
        throws
    {
        let text = name == "pci-and-more" ? Self.pciAndMore : try exampleConfig(name)
        let imported = try importConfig(text, file: name).get()
        let indented = imported.guestYAML.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        let plan = """
            release: 4.17.0
            title: imported
            cases:
              - id: imported
                title: Imported
                area: import
                guest:
            \(indented)
                steps:
                  - create:
                  - destroy:
            """
        let outcome = try loadPlanText(plan)
        let guest = try #require(outcome.plan?.cases.first?.guest, "\(outcome.lines)\n\(plan)")
        #expect(outcome.lines.isEmpty)
        var expected = imported.guest
        expected.name = guest.name
        #expect(guest == expected)
    }

    static let pciAndMore = """
        type = "hvm"
        memory = 1024
        maxmem = 2048
        vcpus = 2; maxvcpus = 4
        pci = [ '0000:03:00.0', '04:00.1,permissive=1' ]
        vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,model=rtl8139' ]
        vif += [ '' ]
        viridian = [ "base", "freq" ]
        cpus = "0-3"
        vga = "stdvga"
        bootloader = "pygrub"
        on_crash = 'restart'
        vncpasswd = 'say "hi"'
        serial = 'pty'
        colour = 1
        """

    @Test func pciRolesNICsAndXLConfigValues() throws {
        let imported = try importConfig(Self.pciAndMore).get()
        #expect(
            imported.guestYAML == """
                type: hvm
                memory: 1G
                vcpus: 2
                maxvcpus: 4
                nics: 2
                pci: [pci1, pci2]
                xl-config:
                  viridian: [base, freq]
                  cpus: 0-3
                  vga: stdvga
                  vncpasswd: "say \\"hi\\""

                """
        )
        #expect(
            imported.notCarriedOver.map(\.description) == [
                "guest.cfg:3: maxmem: a guest starts with as much memory as it may have; a case raises the limit with "
                    + "a 'mem-max' step",
                "guest.cfg:5: pci: '0000:03:00.0': the address is this host's; the guest has role 'pci1', which the "
                    + "host file maps (pci-devices: {pci1: 0000:03:00.0})",
                "guest.cfg:5: pci: '04:00.1,permissive=1': the address is this host's; the guest has role 'pci2', "
                    + "which the host file maps (pci-devices: {pci2: 0000:04:00.1})",
                "guest.cfg:5: pci: 'permissive=1': xentest passes devices through with xl's defaults",
                "guest.cfg:6: vif: 'mac=00:16:3e:00:00:01': xentest gives each NIC a MAC of its own (00:16:3e, from "
                    + "the domain name)", "guest.cfg:6: vif: 'bridge=xenbr0': the host file's 'bridge' names it",
                "guest.cfg:6: vif: 'model=rtl8139': xentest gives an HVM guest's NICs the e1000 model",
                "guest.cfg:11: bootloader: xentest boots the host file's 'guest-kernel' itself, not a bootloader "
                    + "from the guest's own disk",
                "guest.cfg:12: on_crash: xentest sets on_poweroff, on_reboot and on_crash: its shutdown and reboot "
                    + "steps rely on them", "guest.cfg:15: colour: not a key xl.cfg(5) of Xen 4.17 documents",
            ]
        )
    }

    @Test func aLaterAssignmentWinsAndPlusEqualsAdds() throws {
        let imported = try importConfig(
            """
            memory = 128
            builder = 'hvm'
            memory = 0x100
            extra = "console=hvc0"
            extra += " quiet"
            vif = [ '' ]
            vif += [ '', ]
            maxvcpus = 2
            vcpus = 4
            """
        )
        .get()
        #expect(imported.guest.vcpus == 4 && imported.guest.maxvcpus == 4)
        #expect(imported.guest.type == .hvm)
        #expect(imported.guest.memory == MemorySize(mebibytes: 256))
        #expect(imported.guest.nics == 2)
        #expect(
            imported.notCarriedOver.map(\.description) == [
                "guest.cfg:1: memory: set again at line 3; xl uses the last",
                "guest.cfg:4: extra: xentest writes the kernel command line (its console, then the host file's "
                    + "'guest-cmdline')",
                "guest.cfg:8: maxvcpus: fewer than vcpus (4), which libxl refuses; the guest has maxvcpus 4",
            ]
        )
    }

    @Test func malformedConfigsGiveEveryErrorWithItsLineAndColumn() {
        #expect(
            configErrors(
                """
                name = "unterminated
                memory 128
                disk = [ 'phy:/dev/vg/a,xvda,w',
                         'phy:/dev/vg/b,xvdb,w'
                vcpus = 2
                vif = ]
                Kernel = "/boot/vmlinuz"
                extra = 'a\\x41'
                cpus = "0-3" "4"
                maxvcpus =
                pci = [ '03:00.0'
                """
            ) == [
                "guest.cfg:1:8: error: unterminated string: the string that starts here has no closing \" on its line",
                "guest.cfg:2:8: error: expected '=' after 'memory', found '128'",
                "guest.cfg:5:1: error: expected a value or ']' in the list of 'disk' that starts at line 3, found "
                    + "'vcpus': is a ']' missing?", "guest.cfg:6:7: error: unbalanced ']': no list is open here",
                "guest.cfg:7:1: error: 'Kernel': xl.cfg keys are lowercase (letters, digits, '_' and '.')",
                "guest.cfg:8:11: error: xl does not read numeric escapes such as '\\x' (libxlu refuses or drops "
                    + "them); write the character itself",
                "guest.cfg:9:14: error: expected the end of the line after the value of 'cpus', found \"4\"",
                "guest.cfg:10:11: error: 'maxvcpus' has no value: write a number, a \"string\" or a [list]",
                "guest.cfg:11:7: error: unbalanced '[': the list of 'pci' that starts here has no ']'",
            ]
        )
    }

    @Test func hostileConfigsAreRefusedNotCrashedOn() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(
            configErrors("cpuid = \(deep)\n") == ["guest.cfg:1:41: error: lists nested more than 32 deep in 'cpuid'"]
        )
        let directory = try ScratchDirectory()
        let large = try directory.write(String(repeating: "# padding\n", count: 300_000), to: "large.cfg")
        #expect(throws: DiagnosticsError.self) { try XLConfigImport.load(path: large) }
        #expect(
            configErrors("memory = 512M\nvcpus = 2 + 2\n") == [
                "guest.cfg:1:10: error: '512M': a number is digits alone (xl reads memory in MiB, without a unit)",
                "guest.cfg:2:11: note: this looks like Python: xm ran its config files as Python, xl reads only "
                    + "'key = value' lines (https://wiki.xen.org/wiki/PythonInXlConfig)",
                "guest.cfg:2:11: error: xl cannot read '+': a line is 'key = value', the value a number, a "
                    + "\"string\" or a [list]",
            ]
        )
    }

    @Test func whatXLRefusesBesidesSyntax() {
        #expect(
            configErrors("type = \"hvm\"\nbuilder = 'generic'\n") == [
                "guest.cfg:2:1: error: builder 'generic' contradicts type 'hvm' (line 1); xl refuses both: keep 'type'"
            ]
        )
        #expect(
            configErrors("type = 'hvx'") == ["guest.cfg:1:1: error: invalid domain type 'hvx': xl takes pv, pvh or hvm"]
        )
        #expect(
            configErrors("vif = [ '' ]\nvif += 'bridge=xenbr0'\n") == [
                "guest.cfg:2:1: error: 'vif +=' adds a string to a list (line 1); xl adds only a list to a list or a "
                    + "string to a string"
            ]
        )
        #expect(
            configErrors("memory = 128\r\nvcpus = 2\r\n") == [
                "guest.cfg:1:13: error: a carriage return: xl reads only \\n line ends (dos2unix converts the file)",
                "guest.cfg:2:10: error: a carriage return: xl reads only \\n line ends (dos2unix converts the file)",
            ]
        )
    }

    @Test func xlsLexicalDetails() throws {
        // `;` ends a statement, a comment may end the file, a list may close after a trailing comma on its own line,
        // xl's type takes a prefix of the name ("p" is pv), and both quotes undo the same escapes.
        let imported = try importConfig(
            "type = 'p'; vcpus = 2 # two\nvif = [\n  'bridge=br0',\n  '',\n]\nvncpasswd = 'it\\'s \"a\\\\b\"'\n"
                + "keymap = \"en\\tus\"\n# end"
        )
        .get()
        #expect(imported.guest.type == .pv)
        #expect(imported.guest.vcpus == 2)
        #expect(imported.guest.nics == 2)
        #expect(imported.guest.xlConfig == [XLConfigSetting(key: "vncpasswd", value: .string(#"it's "a\b""#))])
        #expect(
            imported.notCarriedOver.map(\.description).last
                == "guest.cfg:7: keymap: a control character or line break, which xl-config refuses"
        )
    }
}
