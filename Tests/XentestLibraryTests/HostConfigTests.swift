import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestXLParsing

@Suite("Host file: PCI roles, bridge, addresses, test guest") struct HostConfigTests {

    @Test func validHostFileWithBothDeviceForms() throws {
        let path = try Fixtures.plan("hosts/lab-host.yaml")
        let host = try HostConfig.load(path: path)
        #expect(host.source == path)
        #expect(host.pciDevices.keys.sorted() == ["gpu", "nic", "spare"])
        #expect(
            host.pciDevices["nic"]
                == .init(address: PCIAddress(domain: 0, bus: 3, device: 0, function: 0), largeBar: false)
        )
        #expect(
            host.pciDevices["gpu"]
                == .init(address: PCIAddress(domain: 0, bus: 1, device: 0, function: 0), largeBar: true)
        )
        // Written without a domain, and unquoted: YAML 1.1 would read 04:00.1 as a base-60 number, the host file
        // reads the text.
        #expect(host.pciDevices["spare"]?.address.description == "0000:04:00.1")
        #expect(host.pciDevices["spare"]?.largeBar == false)
        #expect(host.bridge == "xenbr0")
        #expect(host.libvirtNetwork == nil)
        #expect(host.hostAddress == "192.168.100.1")
        #expect(host.guestAddress == "192.168.100.50")
        #expect(host.guestKernel == "/var/lib/xentest/vmlinuz")
        #expect(host.guestRamdisk == "/var/lib/xentest/initramfs.cpio.gz")
        #expect(host.guestCommandLine == "quiet")
    }

    @Test func emptyHostFileOffersNothing() throws {
        let (config, lines) = try loadHostText("# nothing offered on this host\n")
        #expect(lines.isEmpty)
        #expect(config?.pciDevices.isEmpty == true)
        #expect(config?.bridge == nil)
        #expect(config?.guestKernel == nil)
    }

    @Test func everyProblemOfAHostFileAtOnce() throws {
        let (config, lines) = try loadHostText(
            """
            pci-devices:
              nic: 0000:03:00.8
              nic2: 03:00.0
              nic3: "0000:03:00.0"
              GPU: 01:00.0
              gpu: {address: 01:00.0, large-bar: maybe, size: 8G}
              usb: {large-bar: true}
              sound: [00:1b.0]
            bridge: my bridge
            host-address: 192.168.122.256
            guest-address: 10.0.0
            guest-adress: 10.0.0.2
            guest-kernel:
            """
        )
        #expect(config == nil)
        #expect(
            lines == [
                "host.yaml:2:8: error: address of 'nic': '0000:03:00.8' is not a PCI address; write it as 0000:03:00.0 "
                    + "(domain:bus:device.function)", "host.yaml:4:9: error: 0000:03:00.0 is already offered as 'nic2'",
                "host.yaml:5:3: error: role 'GPU' is not a valid name",
                "host.yaml:6:38: error: large-bar must be true or false, not 'maybe'",
                "host.yaml:6:45: error: unknown key 'size' in pci device 'gpu'; expected one of: address, large-bar",
                "host.yaml:7:8: error: pci device 'usb' is missing required key 'address'",
                "host.yaml:8:10: error: address of 'sound' must be a string, not a list",
                "host.yaml:9:9: error: bridge 'my bridge' is not a valid interface name (15 characters, no '/' or spaces)",
                "host.yaml:10:15: error: host-address '192.168.122.256' is not an IPv4 address such as 10.0.0.1",
                "host.yaml:11:16: error: guest-address '10.0.0' is not an IPv4 address such as 10.0.0.1",
                "host.yaml:12:1: error: unknown key 'guest-adress' in the host file; did you mean 'guest-address'?",
                "host.yaml:13:14: error: guest-kernel must not be empty",
            ]
        )
    }

    @Test(arguments: [
        "1.2.3", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "1..2.3", "1.2.3.-0", "+1.2.3.4", "1.2.3.+4", "0001.2.3.4", "::1",
        "'1.2.3.4 '", "''", "1.2.3.4/24",
    ]) func badIPAddressIsReported(_ text: String) throws {
        let (config, lines) = try loadHostText("host-address: \(text)\n")
        #expect(config == nil)
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("host.yaml:1:15: error: host-address '") == true, "\(lines)")
        #expect(lines.first?.hasSuffix("' is not an IPv4 address such as 10.0.0.1") == true, "\(lines)")
    }

    @Test(arguments: ["0.0.0.0", "10.0.0.1", "192.168.122.1", "255.255.255.255"]) func goodIPAddressIsAccepted(
        _ text: String
    ) throws {
        let (config, lines) = try loadHostText("host-address: \(text)\n")
        #expect(lines.isEmpty)
        #expect(config?.hostAddress == text)
    }

    @Test(arguments: ["xenbr0", "virbr0", "br-0123456789ab", "a"]) func goodBridgeIsAccepted(_ name: String) throws {
        let (config, lines) = try loadHostText("bridge: \(name)\n")
        #expect(lines.isEmpty)
        #expect(config?.bridge == name)
    }

    @Test(arguments: ["br-0123456789abc", "net/br0", "'br 0'"]) func badBridgeIsReported(_ name: String) throws {
        let (_, lines) = try loadHostText("bridge: \(name)\n")
        #expect(lines.count == 1)
        #expect(
            lines.first?.hasSuffix("is not a valid interface name (15 characters, no '/' or spaces)") == true,
            "\(lines)"
        )
    }

    @Test func hostFileThatIsNotAMapping() throws {
        let (_, lines) = try loadHostText("- nic: 03:00.0\n")
        #expect(lines == ["host.yaml:1:1: error: the host file must be a mapping (key: value), not a list"])
    }

    @Test func missingHostFile() throws {
        let directory = try ScratchDirectory()
        #expect { try HostConfig.load(path: directory.path + "/absent.yaml") } throws: { error in
            let messages = (error as? DiagnosticsError)?.diagnostics.map(\.message) ?? []
            return messages.count == 1 && messages[0].hasPrefix("cannot read file")
        }
    }

    @Test func hostileHostFilesAreRefusedLikePlans() throws {
        let (_, nul) = try loadHostText("bridge: xen\0br0\n")
        #expect(nul == ["host.yaml:1:12: error: file contains a NUL byte: this is not a text file"])
        let (_, deep) = try loadHostText("pci-devices: " + String(repeating: "[", count: 5_000) + "\n")
        #expect(deep == ["host.yaml:1:1: error: nesting is deeper than 64 levels"])
    }
}
