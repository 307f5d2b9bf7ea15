/// The hypervisor under the toolstack, as known issues scope to it (`drivers: [qemu]`): Xen itself (xl, or
/// libvirt's libxl driver), QEMU (libvirt's QEMU driver), or libvirt's simulated test driver.
public enum HypervisorDriver: String, Sendable, Hashable, Codable, CaseIterable { case xen, qemu, test }
