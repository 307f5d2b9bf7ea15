import Foundation
import Libvirt
import Testing
@testable import XentestBackendLibvirt
@testable import XentestLab
@testable import XentestPlan
@testable import XentestRun
@testable import XentestServer
@testable import XentestSupport

/// The tester's own guest on libvirtd + QEMU: a copy of it boots and runs on an overlay while its own image and
/// definition stay as they were. In `QemuSystemTests`, so that it runs with the other machine suites, one at a time.
extension QemuSystemTests {
    @Test(
        "a copy of the tester's own domain boots on qemu:///system on a qcow2 overlay; its image and XML are unchanged",
        .timeLimit(.minutes(10))
    ) func ownGuestCopy() async throws {
        let backend = try qemuSystem()
        let guest = try await QemuTestGuest()
        let templateName = "tester-web-\(UUID().uuidString.prefix(8).lowercased())"
        // A few MiB of random data: the tester's disk, which the copy must never write.
        let image = guest.folder.path + "/web.raw"
        let bytes = Data((0..<(4 << 20)).map { _ in UInt8.random(in: 0...255) })
        try bytes.write(to: URL(fileURLWithPath: image))
        let imageBefore = try FileManager.default.attributesOfItem(atPath: image)
        // The tester's domain: xentest's test guest booted directly, with that disk; defined, never started.
        let rendered = DomainXMLRenderer.render(
            GuestInstance(domainName: templateName, spec: GuestSpec(name: "web", type: .pv), host: guest.host),
            dialect: .qemu
        )
        let templateXML = rendered.replacingOccurrences(
            of: "  <devices>\n",
            with: "  <devices>\n    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                + "<source file='\(image)'/><target dev='vda' bus='virtio'/></disk>\n"
        )
        let connection = backend.connection
        let template = try connection.defineDomain(xml: templateXML)
        defer { try? template.undefine() }
        let before = try template.xml(inactive: true)
        var host = guest.host
        host.guests = ["web": .init(source: .libvirtDomain(name: templateName))]
        let plan = try inlinePlan(
            """
            release: test
            title: the tester's own guest on QEMU
            cases:
              - id: own-web
                title: The tester's web server, copied, boots and stays up
                area: lifecycle
                guest: {from-host: web}
                steps:
                  - create:
                  - wait-for-console: \(TestGuestBuilder.readyMarker)
                    timeout: 4m
                  - stay-up: 5s
                  - block-list:
                    expect: {count: 1}
                  - destroy:
            """
        )

        let start = Date()
        let run = try await TestDriverRun.run(plan, backend: backend, host: host)
        print(String(format: "own guest copy on qemu:///system: %.1f s", Date().timeIntervalSince(start)))

        let result = try #require(run.result.cases.first)
        #expect(result.status == .pass, "\(run.reason("own-web"))")
        for step in result.steps {
            print(String(format: "  %@ %@ %.1f s", step.status.rawValue, step.label, step.durationSeconds))
        }
        let name = try #require(run.domainNames.first)
        let overlay = backend.hostFilesDirectory + "/\(name)-own0.qcow2"
        let create = try #require(result.steps.first { $0.label == "create" })
        let made = try #require(create.evidence.first { $0.call == "qemu-img" })
        #expect(made.status == 0)
        #expect(made.arguments == ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", image, overlay])
        let copied = try #require(create.evidence.first { $0.kind == "file" })
        #expect(LibvirtXML(copied.output).strings("/domain/devices/disk/source/@file") == [overlay])
        #expect(
            LibvirtXML(copied.output).strings("/domain/devices/disk/backingStore/source/@file") == [image],
            "the copy reaches the tester's image only as its overlay's backing image"
        )
        let seen = try #require(result.steps.first { $0.label.hasPrefix("wait-for-console") }?.evidence.last)
        #expect(seen.output.contains(TestGuestBuilder.readyMarker))

        // The tester's guest: its disk's bytes, its definition, never started; the overlay went with the case.
        #expect(SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: image))) == SHA256.hex(bytes))
        let imageAfter = try FileManager.default.attributesOfItem(atPath: image)
        for key in [FileAttributeKey.ownerAccountID, .groupOwnerAccountID, .posixPermissions] {
            #expect("\(imageAfter[key] ?? "")" == "\(imageBefore[key] ?? "")", "\(key.rawValue) unchanged")
        }
        #expect(try template.xml(inactive: true) == before)
        #expect(try !template.isActive)
        // libvirtd starts the log of a domain's QEMU when it first starts it.
        #expect(!FileManager.default.fileExists(atPath: "/var/log/libvirt/qemu/\(templateName).log"), "never started")
        let onTemplate = result.steps.flatMap(\.evidence).filter { $0.arguments.first == templateName }
        #expect(onTemplate.map(\.call) == ["virDomainLookupByName", "virDomainGetXMLDesc"], "only read")
        #expect(!FileManager.default.fileExists(atPath: overlay))
        #expect(try connection.domain(named: name) == nil)
    }

    @Test(
        "the tester's image readable by root only: the copy does not start, the case is skipped and says what to do",
        .timeLimit(.minutes(5))
    ) func ownGuestImageQemuCannotRead() async throws {
        let backend = try qemuSystem()
        let guest = try await QemuTestGuest()
        let templateName = "tester-db-\(UUID().uuidString.prefix(8).lowercased())"
        let image = guest.folder.path + "/db.raw"
        try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: image))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: image)
        let rendered = DomainXMLRenderer.render(
            GuestInstance(domainName: templateName, spec: GuestSpec(name: "db", type: .pv), host: guest.host),
            dialect: .qemu
        )
        let template = try backend.connection.defineDomain(
            xml: rendered.replacingOccurrences(
                of: "  <devices>\n",
                with: "  <devices>\n    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                    + "<source file='\(image)'/><target dev='vda' bus='virtio'/></disk>\n"
            )
        )
        defer { try? template.undefine() }
        var host = guest.host
        host.guests = ["db": .init(source: .libvirtDomain(name: templateName))]
        let plan = try inlinePlan(
            """
            release: test
            title: the tester's own guest on QEMU
            cases:
              - id: own-db
                title: The tester's database, copied
                area: lifecycle
                guest: {from-host: db}
                steps:
                  - create:
                  - destroy:
            """
        )

        let run = try await TestDriverRun.run(plan, backend: backend, host: host)

        #expect(run.status("own-db") == .skip)
        #expect(
            run.reason("own-db").hasPrefix("QEMU cannot read the image \(image) of the host file's guest 'db'"),
            "\(run.reason("own-db"))"
        )
        let name = try #require(run.domainNames.first)
        #expect(try backend.connection.domain(named: name) == nil, "the copy is undefined")
        #expect(!FileManager.default.fileExists(atPath: backend.hostFilesDirectory + "/\(name)-own0.qcow2"))
        let after = try FileManager.default.attributesOfItem(atPath: image)
        #expect(after[.ownerAccountID] as? Int == 0)
        #expect((after[.posixPermissions] as? Int).map { $0 & 0o777 } == 0o600)
    }
}
