import Libvirt
import Testing

@Suite(.tags(.libvirt)) struct LibvirtNodeDeviceTests {
    @Test func listsAndLooksUpDevices() throws {
        let connection = try openTestDriver()
        let names = try connection.nodeDevices().map(\.name).sorted()
        #expect(names == ["computer", "net_eth1_52_54_00_12_34_56", "pci_0000_03_00_0"])

        let nic = try #require(try connection.nodeDevice(named: "pci_0000_03_00_0"))
        #expect(try nic.capabilities == ["pci"])
        #expect(nic.parent == "computer")
        #expect(try nic.xml().contains("<iommuGroup number='12'>"))
        #expect(try connection.nodeDevice(named: "no_such_device") == nil)
    }

    @Test func filtersByCapability() throws {
        let connection = try openTestDriver()
        #expect(try connection.nodeDevices(capability: "pci").map(\.name) == ["pci_0000_03_00_0"])
        #expect(try connection.nodeDevices(capability: "net").map(\.name) == ["net_eth1_52_54_00_12_34_56"])
        #expect(try connection.nodeDevices(capability: "system").map(\.name) == ["computer"])
        // A name libvirt has no filter flag for is matched against each device's capabilities.
        #expect(try connection.nodeDevices(capability: "not-a-capability").isEmpty)
    }

    @Test func theRootDeviceHasNoParent() throws {
        let computer = try #require(try openTestDriver().nodeDevice(named: "computer"))
        #expect(computer.parent == nil)
    }

    @Test func passthroughCallsAreNotSupportedByTheTestDriver() throws {
        let nic = try #require(try openTestDriver().nodeDevice(named: "pci_0000_03_00_0"))
        let error = try #require(throws: LibvirtError.self) { try nic.detach() }
        #expect(error.isNotSupported)
        #expect(error.call == "virNodeDeviceDetachFlags")
        #expect(error.message.contains("virNodeDeviceDetachFlags"))
        #expect(throws: LibvirtError.self) { try nic.reattach() }
        #expect(throws: LibvirtError.self) { try nic.reset() }
    }
}
