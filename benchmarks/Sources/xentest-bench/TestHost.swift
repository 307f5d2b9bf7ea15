import Foundation

/// The private host the benchmark runs on: the content of Tests/XentestCoreTests/Fixtures/hosts/testhost.xml.
///
/// Opening `test:///ABS/PATH.xml` gives every connection fresh state, so each run starts from the same host.
/// The predefined running domain `resident` is what the virsh measurement in libvirt-ops.sh acts on, since it
/// exists in every fresh virsh process.
enum TestHost {
    static let xml = """
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

    /// Writes the host XML into a new temporary file and returns its absolute path.
    static func writeTemporaryFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/xentest-bench-host-\(getpid()).xml"
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Seconds since `start`.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// The median of `values` (0 for none).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// This process's peak resident set size so far, in KiB (getrusage's ru_maxrss on Linux).
func peakRSSKiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}
