import Testing

@testable import Libvirt

/// Every libvirt object holds a reference on its connection, so a close that frees the connection proves each
/// wrapper freed its pointer.
@Suite(.tags(.libvirt)) struct OwnershipTests {
    @Test func wrappersReleaseEveryPointer() throws {
        let connection = try openTestDriver()
        try exerciseEveryWrapper(connection)
        #expect(connection.closeReportingRelease() == true)
    }

    @Test func aLiveObjectKeepsItsReference() throws {
        let connection = try openTestDriver()
        let domain = try #require(try connection.domain(named: "resident"))
        #expect(connection.closeReportingRelease() == false)
        #expect(domain.name == "resident")
        #expect(connection.closeReportingRelease() == nil)
    }

    @Test func closeEndsTheEventRegistrationAndItsReference() async throws {
        let connection = try openTestDriver()
        do {
            let events = try connection.domainLifecycleEvents()
            try connection.defineDomain(xml: testDomainXML(name: "vm1")).undefine()
            let first = try await withTimeout(.seconds(10), waitingFor: "a defined event") {
                await events.first { _ in true }
            }
            #expect(first?.kind == .defined)
        }
        // Ending the iteration dropped the stream; closing deregistered the connection's one callback, which held a
        // reference on the connection.
        #expect(connection.lifecycleStreamCount == 0)
        #expect(connection.closeReportingRelease() == true)
    }

    private func exerciseEveryWrapper(_ connection: LibvirtConnection) throws {
        _ = try connection.domains()
        _ = try connection.networks()
        for device in try connection.nodeDevices() { _ = try device.capabilities }
        _ = try connection.nodeDevices(capability: "pci")
        _ = try connection.nodeDevices(capability: "not-a-capability")
        let domain = try connection.defineDomain(xml: testDomainXML(name: "vm1"))
        try domain.create()
        _ = try domain.id
        _ = try domain.xml()
        try domain.destroy()
        try domain.undefine()
        _ = try connection.domain(named: "vm1")
        let (_, image) = try #require(try connection.domain(named: "resident")).screenshot()
        while try image.receive() != nil {}
        try image.finish()
        _ = try connection.defineNetwork(xml: "<network><name>n</name><bridge name='xtbr9'/></network>")
        _ = try connection.network(named: "n")
        _ = try connection.nodeDevice(named: "computer")
        _ = try connection.domainLifecycleEvents()
        _ = try? #require(try connection.domain(named: "resident")).openConsole()
    }
}
