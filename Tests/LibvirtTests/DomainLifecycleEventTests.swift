import Testing

@testable import Libvirt

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
        // The first stream is dropped at once, which takes it off the connection's list; a second one still works.
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

    /// libvirt refuses a second registration of one callback on one connection ("event callback already
    /// tracked"); streams open at the same time share the connection's one.
    @Test func streamsOpenAtTheSameTimeEachGetEveryEvent() async throws {
        let connection = try openTestDriver()
        let first = try connection.domainLifecycleEvents()
        let second = try connection.domainLifecycleEvents()
        #expect(connection.lifecycleStreamCount == 2)
        try connection.defineDomain(xml: testDomainXML(name: "vm-both")).undefine()
        for events in [first, second] {
            let kinds = try await withTimeout(.seconds(10), waitingFor: "defined and undefined events") {
                var kinds: [DomainLifecycleEvent.Kind] = []
                for await event in events where event.domainName == "vm-both" {
                    kinds.append(event.kind)
                    if event.kind == .undefined { break }
                }
                return kinds
            }
            #expect(kinds == [.defined, .undefined])
        }
    }

    @Test func aStreamThatEndsLeavesTheOthersFed() async throws {
        let connection = try openTestDriver()
        let staying = try connection.domainLifecycleEvents()
        do {
            let leaving = try connection.domainLifecycleEvents()
            try connection.defineDomain(xml: testDomainXML(name: "vm-leave")).undefine()
            let first = try await withTimeout(.seconds(10), waitingFor: "a defined event") {
                await leaving.first { _ in true }
            }
            #expect(first?.kind == .defined)
        }
        #expect(connection.lifecycleStreamCount == 1)
        let kinds = try await withTimeout(.seconds(10), waitingFor: "defined and undefined events") {
            var kinds: [DomainLifecycleEvent.Kind] = []
            for await event in staying where event.domainName == "vm-leave" {
                kinds.append(event.kind)
                if event.kind == .undefined { break }
            }
            return kinds
        }
        #expect(kinds == [.defined, .undefined])
        connection.close()
        #expect(connection.lifecycleStreamCount == 0)
    }
}
