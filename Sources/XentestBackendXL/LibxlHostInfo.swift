import CXenLight
import Foundation
import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport

/// dom0's facts straight from libxl, in-process: what `xl info` prints, read the way xl reads it
/// (`tools/xl/xl_info.c`: `libxl_get_physinfo`, `libxl_get_version_info`, `uname`), with no process started and
/// nothing parsed. Used when xentest itself runs in dom0; over SSH the xl backend asks `xl info`.
public enum LibxlHostInfo {
    /// The host's info as an `XLInfo`, so both sources give the xl backend the same value.
    ///
    /// Checks for Xen first: libxl without a hypervisor fails (`cannot open libxc handle`), and a NULL logger
    /// would crash libxentoollog, so one that writes errors to stderr is always passed.
    public static func read() throws(LibxlUnavailable) -> XLInfo {
        guard XenHost.isPresent else {
            throw LibxlUnavailable("no Xen hypervisor here (no /proc/xen/capabilities or /dev/xen/privcmd)")
        }
        guard let stdio = xtl_createlogger_stdiostream(xentest_stderr(), XTL_ERROR, 0) else {
            throw LibxlUnavailable("cannot create libxl's logger")
        }
        let logger = UnsafeMutablePointer<xentoollog_logger>(stdio)
        defer { xtl_logger_destroy(logger) }
        var context: OpaquePointer?
        let allocated = libxl_ctx_alloc(&context, LIBXL_VERSION, 0, logger)
        defer { libxl_ctx_free(context) }
        guard allocated == 0, let context else {
            throw LibxlUnavailable("libxl_ctx_alloc failed (\(allocated)): is this dom0, and are you root?")
        }
        var physinfo = libxl_physinfo()
        libxl_physinfo_init(&physinfo)
        defer { libxl_physinfo_dispose(&physinfo) }
        let physinfoStatus = libxl_get_physinfo(context, &physinfo)
        guard physinfoStatus == 0 else { throw LibxlUnavailable("libxl_get_physinfo failed (\(physinfoStatus))") }
        guard let version = libxl_get_version_info(context)?.pointee else {
            throw LibxlUnavailable("libxl_get_version_info failed")
        }
        var names = utsname()
        guard uname(&names) == 0 else { throw LibxlUnavailable("uname failed: errno \(errno)") }

        let pagesPerMiB = UInt64((1 << 20) / max(Int(version.pagesize), 1))
        let xenVersion = "\(version.xen_version_major).\(version.xen_version_minor)" + string(version.xen_version_extra)
        let virtCaps = Self.virtCaps(physinfo)
        let xenCaps = string(version.capabilities).split(separator: " ").map(String.init)
        let hostname = field(&names.nodename)
        let release = field(&names.release)
        let machine = field(&names.machine)
        let totalMemoryMiB = physinfo.total_pages / pagesPerMiB
        let freeMemoryMiB = (physinfo.free_pages - physinfo.outstanding_pages) / pagesPerMiB
        let fields: [(String, String)] = [
            ("host", hostname), ("release", release), ("version", field(&names.version)), ("machine", machine),
            ("nr_cpus", String(physinfo.nr_cpus)), ("max_cpu_id", String(physinfo.max_cpu_id)),
            ("nr_nodes", String(physinfo.nr_nodes)), ("cores_per_socket", String(physinfo.cores_per_socket)),
            ("threads_per_core", String(physinfo.threads_per_core)), ("virt_caps", virtCaps.joined(separator: " ")),
            ("total_memory", String(totalMemoryMiB)), ("free_memory", String(freeMemoryMiB)),
            ("xen_major", String(version.xen_version_major)), ("xen_minor", String(version.xen_version_minor)),
            ("xen_extra", string(version.xen_version_extra)), ("xen_version", xenVersion),
            ("xen_caps", xenCaps.joined(separator: " ")), ("xen_pagesize", String(version.pagesize)),
            ("xen_changeset", string(version.changeset)), ("xen_commandline", string(version.commandline)),
            ("build_id", string(version.build_id)),
        ]
        return XLInfo(
            fields: fields.map { XLInfo.Field(key: $0.0, value: $0.1) },
            xenVersion: xenVersion,
            hostname: hostname,
            release: release,
            machine: machine,
            cpus: Int(physinfo.nr_cpus),
            totalMemoryMiB: Int(totalMemoryMiB),
            freeMemoryMiB: Int(freeMemoryMiB),
            virtCaps: virtCaps,
            xenCaps: xenCaps
        )
    }

    /// `virt_caps` as xl 4.17 prints it, in its order.
    static func virtCaps(_ info: libxl_physinfo) -> [String] {
        let caps: [(Bool, String)] = [
            (info.cap_pv, "pv"), (info.cap_hvm, "hvm"), (info.cap_hvm && info.cap_hvm_directio, "hvm_directio"),
            (info.cap_pv && info.cap_hvm_directio, "pv_directio"), (info.cap_hap, "hap"), (info.cap_shadow, "shadow"),
            (info.cap_iommu_hap_pt_share, "iommu_hap_pt_share"), (info.cap_vmtrace, "vmtrace"), (info.cap_vpmu, "vpmu"),
            (info.cap_gnttab_v1, "gnttab-v1"), (info.cap_gnttab_v2, "gnttab-v2"),
        ]
        return caps.filter(\.0).map(\.1)
    }

    /// A C string that libxl owns (or NULL) as a Swift string.
    private static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    /// One of `utsname`'s fixed-size fields.
    private static func field<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { bytes in String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// libxl could not be asked (no Xen here, not root, or a libxl call failed).
public struct LibxlUnavailable: Error, CustomStringConvertible {
    /// What could not be done, and the likely cause.
    public var message: String
    /// libxl could not be asked, for the reason `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
