import Foundation

/// Whether this machine is a Xen host (dom0).
public enum XenHost {
    /// True where Xen's privileged interfaces exist.
    public static var isPresent: Bool {
        FileManager.default.fileExists(atPath: "/proc/xen/capabilities")
            || FileManager.default.fileExists(atPath: "/dev/xen/privcmd")
    }
}
