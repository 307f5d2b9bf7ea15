import Foundation
import Libvirt
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan

/// libvirt's XML read through Foundation's parser: on what libvirt's own test driver returns, and on the forms a
/// text scan would misread (double quotes, comments, elements across lines).
@Suite("Reading libvirt's XML") struct LibvirtXMLTests {
    @Test("capabilities of libvirt's test driver: its guest OS types, and no IOMMU") func capabilitiesOfTheTestDriver()
        throws
    {
        let connection = try LibvirtConnection(uri: "test:///default")
        let capabilities = LibvirtXML(try connection.capabilitiesXML())
        #expect(capabilities.osTypes.contains("hvm"), "\(capabilities.osTypes)")
        #expect(!capabilities.hostHasIOMMU)
    }

    @Test("a node device's driver: none on the test driver's device, pciback where libvirt names it")
    func nodeDeviceDriver() throws {
        let connection = try privateTestHost().connection
        let node = try #require(try connection.nodeDevice(named: "pci_0000_03_00_0"))
        #expect(LibvirtXML(try node.xml()).nodeDeviceDriver == "")
        let bound = """
            <device>
              <name>pci_0000_00_04_0</name>
              <parent>computer</parent>
              <driver>
                <name>pciback</name>
              </driver>
              <capability type='pci'><domain>0</domain><bus>0</bus><slot>4</slot><function>0</function></capability>
            </device>
            """
        #expect(LibvirtXML(bound).nodeDeviceDriver == "pciback")
    }

    @Test("hostdev addresses and interfaces in either quote style, with comments, across lines") func domainDevices() {
        let xml = """
            <domain type="xen">
              <name>xentest-x</name>
              <devices>
                <!-- <hostdev><source><address domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></source></hostdev> -->
                <hostdev mode="subsystem" type="pci" managed="no">
                  <source>
                    <address domain="0x0000" bus="0x00"
                             slot="0x04" function="0x0"/>
                  </source>
                </hostdev>
                <interface type='bridge'><mac address='00:16:3E:12:34:56'/><source bridge='xenbr0'/></interface>
                <interface type="bridge"><mac address="00:16:3e:12:34:57"/></interface>
              </devices>
            </domain>
            """
        let domain = LibvirtXML(xml)
        #expect(domain.hostdevAddresses == [PCIAddress(domain: 0, bus: 0, device: 4, function: 0)])
        #expect(domain.interfaceCount == 2)
        #expect(domain.interfaceMACs == ["00:16:3e:12:34:56", "00:16:3e:12:34:57"])
    }

    @Test("text that is not XML names nothing") func notXML() {
        let broken = LibvirtXML("<domain><devices><hostdev>")
        #expect(broken.hostdevAddresses.isEmpty && broken.interfaceCount == 0 && broken.osTypes.isEmpty)
    }
}
