import Libvirt
import Testing

@Suite(.tags(.libvirt)) struct DomainLifecycleEventTests {
    @Test func deliversStartedAndStoppedForADomain() async throws {
        let connection = try openTestDriver()
        let events = try connection.domainLifecycleEvents()

        let domain = try connection.defineDomain(xml: testDomainXML(name: "vm-events"))
        try domain.create()
        try domain.destroy()

        let kinds = try await withTimeout(.seconds(10), waitingFor: "started and stopped events") {
            var kinds: [DomainLifecycleEvent.Kind] = []
            for await event in events where event.domainName == "vm-events" {
                #expect(event.domainUUID == domain.uuidString)
                kinds.append(event.kind)
                if event.kind == .stopped { break }
            }
            return kinds
        }
        #expect(kinds == [.defined, .started, .stopped])
    }

    @Test func streamEndsWhenTheConnectionCloses() async throws {
        let connection = try openTestDriver()
        let events = try connection.domainLifecycleEvents()
        connection.close()
        let count = try await withTimeout(.seconds(10), waitingFor: "the event stream to end") {
            var count = 0
            for await _ in events { count += 1 }
            return count
        }
        #expect(count == 0)
    }

    @Test func registeringOnAClosedConnectionThrows() throws {
        let connection = try openTestDriver()
        connection.close()
        let error = try #require(throws: LibvirtError.self) { try connection.domainLifecycleEvents() }
        #expect(error.isInvalidConnection)
    }

    @Test func aNewStreamGetsEventsAfterAnEarlierOneWasDropped() async throws {
        let connection = try openTestDriver()
        // The first stream is dropped at once, which deregisters it (see OwnershipTests); a second one still works.
        _ = try connection.domainLifecycleEvents()
        let events = try connection.domainLifecycleEvents()
        try connection.defineDomain(xml: testDomainXML(name: "vm-second")).undefine()
        let kinds = try await withTimeout(.seconds(10), waitingFor: "defined and undefined events") {
            var kinds: [DomainLifecycleEvent.Kind] = []
            for await event in events {
                kinds.append(event.kind)
                if event.kind == .undefined { break }
            }
            return kinds
        }
        #expect(kinds == [.defined, .undefined])
    }
}
