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
/// PCI NIC (with its net device) to pass through.
let testHostXML = """
    <node>
      <cpu>
        <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>2</threads>
        <mhz>2400</mhz><model>x86_64</model>
      </cpu>
      <memory>8388608</memory>
      <domain type='test'>
        <name>resident</name>
        <memory unit='MiB'>512</memory>
        <vcpu>2</vcpu>
        <os><type>hvm</type></os>
      </domain>
      <network>
        <name>default</name>
        <bridge name='virbr0'/>
        <ip address='192.168.122.1' netmask='255.255.255.0'/>
      </network>
      <device>
        <name>computer</name>
        <capability type='system'>
          <hardware><vendor>xentest</vendor><version>1</version><serial>1</serial>
            <uuid>8f1d2a3c-0000-4000-8000-000000000001</uuid></hardware>
          <firmware><vendor>xentest</vendor><version>1</version><release_date>01/01/2025</release_date></firmware>
        </capability>
      </device>
      <device>
        <name>pci_0000_03_00_0</name>
        <parent>computer</parent>
        <capability type='pci'>
          <class>0x020000</class>
          <domain>0</domain><bus>3</bus><slot>0</slot><function>0</function>
          <product id='0x10d3'>82574L Gigabit Network Connection</product>
          <vendor id='0x8086'>Intel Corporation</vendor>
          <iommuGroup number='12'>
            <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
          </iommuGroup>
        </capability>
      </device>
      <device>
        <name>net_eth1_52_54_00_12_34_56</name>
        <parent>pci_0000_03_00_0</parent>
        <capability type='net'>
          <interface>eth1</interface>
          <address>52:54:00:12:34:56</address>
        </capability>
      </device>
    </node>
    """

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
