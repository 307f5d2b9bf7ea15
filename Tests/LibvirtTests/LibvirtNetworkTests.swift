import Libvirt
import Testing

@Suite(.tags(.libvirt)) struct LibvirtNetworkTests {
    /// An isolated network: no <forward>, so nothing could leave the machine even on a real host.
    let isolatedNetworkXML = """
        <network>
          <name>xt-isolated</name>
          <bridge name='xtbr0'/>
          <ip address='192.168.250.1' netmask='255.255.255.0'/>
        </network>
        """

    @Test func definesStartsStopsAndUndefinesANetwork() throws {
        let connection = try openTestDriver()
        let network = try connection.defineNetwork(xml: isolatedNetworkXML)
        #expect(network.name == "xt-isolated")
        #expect(try !network.isActive)
        #expect(try network.isPersistent)
        #expect(try connection.networks().map(\.name).contains("xt-isolated"))

        try network.create()
        #expect(try network.isActive)
        #expect(try network.bridgeName == "xtbr0")
        #expect(try network.xml().contains("192.168.250.1"))

        try network.destroy()
        #expect(try !network.isActive)
        try network.undefine()
        #expect(try connection.network(named: "xt-isolated") == nil)
    }

    @Test func theDefaultNetworkExists() throws {
        let network = try #require(try openTestDriver().network(named: "default"))
        #expect(try network.isActive)
    }

    @Test func startingARunningNetworkFails() throws {
        let network = try #require(try openTestDriver().network(named: "default"))
        let error = try #require(throws: LibvirtError.self) { try network.create() }
        #expect(error.call == "virNetworkCreate")
        #expect(error.isOperationInvalid)
    }

    @Test func lookingUpAMissingNetworkGivesNil() throws {
        #expect(try openTestDriver().network(named: "no-such-network") == nil)
    }
}
