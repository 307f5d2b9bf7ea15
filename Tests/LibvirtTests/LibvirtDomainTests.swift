import Libvirt
import Testing

@Suite(.tags(.libvirt)) struct LibvirtDomainTests {
    @Test func definesAndStartsADomain() throws {
        let connection = try openTestDriver()
        let domain = try connection.defineDomain(xml: testDomainXML(name: "vm1"))
        #expect(domain.name == "vm1")
        #expect(try !domain.isActive)
        #expect(try domain.isPersistent)
        #expect(try domain.id == nil)
        #expect(try domain.state == .shutoff)

        try domain.create()
        #expect(try domain.isActive)
        #expect(try domain.id != nil)
        let info = try domain.info()
        #expect(info.state == .running)
        #expect(info.vcpus == 1)
        #expect(info.maxMemoryKiB == 128 * 1024)
        #expect(try connection.domains().map(\.name).sorted() == ["resident", "vm1"])
    }

    @Test func idFollowsAStartThroughAnotherObject() throws {
        let connection = try openTestDriver()
        let starter = try connection.defineDomain(xml: testDomainXML(name: "vm1"))
        let observer = try #require(try connection.domain(named: "vm1"))
        #expect(try observer.id == nil)
        try starter.create()
        let id = try #require(try observer.id)
        try starter.destroy()
        #expect(try observer.id == nil)
        try starter.create()
        // The test driver numbers each start anew, like Xen domids.
        #expect(try observer.id != id)
    }

    @Test func readsAndSetsLiveVcpus() throws {
        let domain = try openTestDriver().defineDomain(xml: testDomainXML(name: "vm1"))
        try domain.create()
        #expect(try domain.vcpuCount(.live) == 1)
        #expect(try domain.vcpuCount([.live, .maximum]) == 4)
        #expect(try domain.vcpuCount(.config) == 1)

        try domain.setVcpuCount(3, scope: .live)
        #expect(try domain.vcpuCount(.live) == 3)
        #expect(try domain.info().vcpus == 3)
        #expect(try domain.vcpuCount(.config) == 1)
    }

    @Test func pinsAVcpuAndReadsEveryVcpusAffinity() throws {
        let connection = try openTestDriver()
        let hostCPUs = try connection.nodeInfo().cpus
        let domain = try connection.defineDomain(xml: testDomainXML(name: "vm-pin"))
        try domain.create()
        let before = try domain.vcpuPinning(vcpus: 4, hostCPUs: hostCPUs)
        #expect(before.first == Set(0..<hostCPUs))
        try domain.pinVcpu(0, to: [1], hostCPUs: hostCPUs)
        #expect(try domain.vcpuPinning(vcpus: 4, hostCPUs: hostCPUs).first == [1])
        try domain.pinVcpu(0, to: [0, 2], hostCPUs: hostCPUs)
        #expect(try domain.vcpuPinning(vcpus: 4, hostCPUs: hostCPUs).first == [0, 2])
    }

    @Test func pinningToACPUTheHostLacksFailsBeforeCallingLibvirt() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        let error = try #require(throws: LibvirtError.self) { try domain.pinVcpu(0, to: [16], hostCPUs: 16) }
        #expect(error.isInvalidArgument)
        #expect(error.call == "virDomainPinVcpu")
    }

    @Test func askingForMoreThanTheMaximumVcpusFails() throws {
        let domain = try openTestDriver().defineDomain(xml: testDomainXML(name: "vm1"))
        try domain.create()
        let error = try #require(throws: LibvirtError.self) { try domain.setVcpuCount(8, scope: .live) }
        #expect(error.message.contains("exceeds maximum"))
        #expect(error.isInvalidArgument)
        #expect(error.call == "virDomainSetVcpusFlags")
        #expect(try domain.vcpuCount(.live) == 1)
    }

    @Test func rejectsANegativeVcpuCountBeforeCallingLibvirt() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        let error = try #require(throws: LibvirtError.self) { try domain.setVcpuCount(-1, scope: .live) }
        #expect(error.isInvalidArgument)
    }

    @Test func suspendsAndResumes() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        try domain.suspend()
        #expect(try domain.state == .paused)
        #expect(try domain.info().state == .paused)
        try domain.resume()
        #expect(try domain.state == .running)
    }

    @Test func createPausedReportsADriverWithoutStartPaused() throws {
        let domain = try openTestDriver().defineDomain(xml: testDomainXML(name: "vm1"))
        let error = try #require(throws: LibvirtError.self) { try domain.createPaused() }
        #expect(error.isInvalidArgument)
        #expect(error.message.contains("unsupported flags"))
        #expect(error.call == "virDomainCreateWithFlags")
        // Not started behind the caller's back.
        #expect(try !domain.isActive)
    }

    @Test func shutsDown() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        try domain.shutdown()
        // The test driver has no guest to wait for: shutdown completes at once.
        #expect(try domain.state == .shutoff)
    }

    @Test func destroyAndUndefineRemoveTheDomain() throws {
        let connection = try openTestDriver()
        let domain = try connection.defineDomain(xml: testDomainXML(name: "vm1"))
        try domain.create()
        try domain.destroy()
        #expect(try domain.state == .shutoff)
        #expect(try !domain.isActive)
        try domain.undefine()
        #expect(try connection.domain(named: "vm1") == nil)
    }

    @Test func destroyingAStoppedDomainIsAnInvalidOperation() throws {
        let domain = try openTestDriver().defineDomain(xml: testDomainXML(name: "vm1"))
        let error = try #require(throws: LibvirtError.self) { try domain.destroy() }
        #expect(error.isOperationInvalid)
        #expect(error.call == "virDomainDestroy")
    }

    @Test func setsMemory() throws {
        let domain = try openTestDriver().defineDomain(xml: testDomainXML(name: "vm1"))
        try domain.create()
        try domain.setMemory(kiB: 64 * 1024)
        #expect(try domain.info().memoryKiB == 64 * 1024)
    }

    @Test func xmlDescribesTheDomain() throws {
        let domain = try openTestDriver().defineDomain(xml: testDomainXML(name: "vm1"))
        let xml = try domain.xml()
        #expect(xml.contains("<name>vm1</name>"))
        #expect(xml.contains(domain.uuidString))
        #expect(try domain.xml(inactive: true).contains("current='1'>4</vcpu>"))
    }

    @Test func attachingADeviceIsNotSupportedByTheTestDriver() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        let interface = "<interface type='network'><source network='default'/></interface>"
        let error = try #require(throws: LibvirtError.self) {
            try domain.attachDevice(xml: interface, live: true, config: false)
        }
        #expect(error.isNotSupported)
        #expect(error.message.contains("virDomainAttachDeviceFlags"))
        #expect(error.call == "virDomainAttachDeviceFlags")

        let detachError = try #require(throws: LibvirtError.self) { try domain.detachDevice(xml: interface) }
        #expect(detachError.isNotSupported)
    }

    @Test func screenshotStreamsTheImage() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        let (mimeType, image) = try domain.screenshot()
        #expect(mimeType == "image/png")
        var bytes: [UInt8] = []
        while let chunk = try image.receive(max: 4096) {
            #expect(chunk.count <= 4096)
            bytes += chunk
        }
        try image.finish()
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(bytes.count > 4096)
    }

    @Test func sendingOnAReadOnlyStreamFails() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        let (_, image) = try domain.screenshot()
        let error = try #require(throws: LibvirtError.self) { try image.send(Array("hello".utf8)) }
        #expect(error.call == "virStreamSend")
        try image.abort()
    }

    @Test func consoleIsNotSupportedByTheTestDriver() throws {
        let domain = try #require(try openTestDriver().domain(named: "resident"))
        let error = try #require(throws: LibvirtError.self) { try domain.openConsole() }
        #expect(error.isNotSupported)
        #expect(error.call == "virDomainOpenConsole")
    }

    @Test func stateDescriptionsUseVirshWords() {
        #expect(DomainState.shutoff.description == "shut off")
        #expect(DomainState.blocked.description == "idle")
        #expect(DomainState.pmSuspended.description == "pmsuspended")
    }
}
