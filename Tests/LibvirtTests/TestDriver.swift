import Foundation
import Libvirt
import Testing

extension Tag {
    /// Tests that call into libvirt (here: its in-process test driver, always present with libvirt0).
    @Tag static var libvirt: Self
}

/// Opens libvirt's in-process test driver on a private host: nothing another test does is visible here.
///
/// `test:///default` is not private: libvirt shares its state among all connections open at the same time in
/// the process, and Swift Testing runs tests in parallel. A host file gets a new state on every open.
func openTestDriver(readOnly: Bool = false) throws -> LibvirtConnection {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("xentest-libvirt-host-\(UUID().uuidString).xml").path
    try testHostXML.write(toFile: path, atomically: true, encoding: .utf8)
    // libvirt has parsed the file once the open returns.
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try LibvirtConnection(uri: "test://\(path)", readOnly: readOnly)
}

/// The private test host: 8 CPUs, 8 GiB, a running domain "resident", an active network "default", and a
/// PCI NIC (with its net device) to pass through. One file for the whole project (the core's tests and the
/// benchmark use it too).
let testHostXML: String = {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("XentestLibraryTests/Fixtures/hosts/testhost.xml")
    guard let text = try? String(contentsOf: file, encoding: .utf8) else {
        fatalError("cannot read the test host \(file.path)")
    }
    return text
}()

/// A test-driver guest with a maximum of 4 vCPUs of which 1 is present.
func testDomainXML(name: String) -> String {
    """
    <domain type='test'>
      <name>\(name)</name>
      <memory unit='MiB'>128</memory>
      <vcpu current='1'>4</vcpu>
      <os><type arch='x86_64'>hvm</type></os>
    </domain>
    """
}

/// Fails the awaiting test instead of hanging when something never arrives.
struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, throwing `TimedOut` if it has not finished within `limit`; the loser is cancelled.
func withTimeout<T: Sendable>(
    _ limit: Duration,
    waitingFor what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
