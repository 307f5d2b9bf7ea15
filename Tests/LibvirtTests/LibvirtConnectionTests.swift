import Libvirt
import Testing

@Suite(.tags(.libvirt)) struct LibvirtConnectionTests {
    @Test func opensTheDefaultTestDriver() throws {
        let connection = try LibvirtConnection(uri: "test:///default")
        #expect(try connection.driverType == "TEST")
        #expect(try connection.uri == "test:///default")
        #expect(connection.requestedURI == "test:///default")
        // Its domains are not checked: test:///default is shared by every test in the process that opens it.
    }

    @Test func closedConnectionThrowsInsteadOfCrashing() throws {
        let connection = try openTestDriver()
        connection.close()
        connection.close()
        let error = try #require(throws: LibvirtError.self) { try connection.domains() }
        #expect(error.isInvalidConnection)
        #expect(error.call == "virConnectListAllDomains")
    }

    @Test func openingAnUnknownDriverThrowsTheLibvirtError() throws {
        let error = try #require(throws: LibvirtError.self) { try LibvirtConnection(uri: "nosuchdriver:///nowhere") }
        #expect(error.call == "virConnectOpen")
        #expect(!error.message.isEmpty)
        #expect(error.description.hasPrefix("virConnectOpen failed: "))
    }

    @Test func readOnlyConnectionRejectsChanges() throws {
        let connection = try openTestDriver(readOnly: true)
        #expect(try connection.domain(named: "resident") != nil)
        let error = try #require(throws: LibvirtError.self) {
            try connection.defineDomain(xml: testDomainXML(name: "ro"))
        }
        #expect(error.call == "virDomainDefineXML")
        #expect(error.message.contains("read only") || error.message.contains("read-only"))
    }

    @Test func nodeInfoDescribesTheHost() throws {
        let info = try openTestDriver().nodeInfo()
        #expect(info.model == "x86_64")
        #expect(info.memoryKiB == 8 * 1024 * 1024)
        #expect(info.cpus == 8)
        #expect(info.mhz == 2400)
        #expect(info.cpus == info.nodes * info.sockets * info.cores * info.threads)
    }

    @Test func hostFacts() throws {
        let connection = try openTestDriver()
        #expect(try !connection.hostname.isEmpty)
        #expect(try connection.capabilitiesXML().contains("<capabilities>"))
        #expect(try connection.maxVcpus() > 0)
        #expect(try connection.libraryVersion >= LibvirtVersion(major: 1, minor: 0, micro: 0))
        #expect(try connection.hypervisorVersion > LibvirtVersion(major: 0, minor: 0, micro: 0))
    }

    @Test func freeMemory() throws {
        #expect(try LibvirtConnection(uri: "test:///default").freeMemoryBytes() > 0)
        // A host file without NUMA cells has no free memory, which libvirt reports as a failure.
        let error = try #require(throws: LibvirtError.self) { try openTestDriver().freeMemoryBytes() }
        #expect(error.call == "virNodeGetFreeMemory")
    }

    @Test func versionDecodesLibvirtsEncoding() {
        let version = LibvirtVersion(encoded: 4_017_002)
        #expect(version == LibvirtVersion(major: 4, minor: 17, micro: 2))
        #expect(version.description == "4.17.2")
        #expect(LibvirtVersion(encoded: 9_000_000) > version)
    }

    @Test func listsTheResidentDomain() throws {
        let connection = try openTestDriver()
        #expect(try connection.domains().map(\.name) == ["resident"])
        let domain = try #require(try connection.domain(named: "resident"))
        #expect(domain.uuidString.count == 36)
        #expect(try domain.state == .running)
        #expect(try domain.id != nil)
    }

    @Test func lookingUpAMissingDomainGivesNil() throws {
        #expect(try openTestDriver().domain(named: "no-such-domain") == nil)
    }

    @Test func objectsOutliveTheirClosedConnection() throws {
        let connection = try openTestDriver()
        let domain = try #require(try connection.domain(named: "resident"))
        connection.close()
        // libvirt keeps the connection alive for the domain's own reference.
        #expect(try domain.isActive)
    }
}
