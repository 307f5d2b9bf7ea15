import XentestPlan

/// What a guest's `xl-config:` keys become in libvirt domain XML, for the keys libvirt's libxl driver turns into the
/// same libxl setting (libvirt 9's src/libxl/libxl_conf.c: `libxlMakeDomCreateInfo`, `libxlMakeDomBuildInfo`,
/// `libxlMakeVideo`):
///
/// - `hap` (HVM, PVH): `<features><hap state='on|off'/>`;
/// - `pae`, `acpi`, `apic` (HVM): `<pae/>`, `<acpi/>`, `<apic/>` present for 1 and left out for 0 (the driver sets
///   each to whether its element is there);
/// - `vga` (`stdvga`, `cirrus`, `qxl`, `none`) and `videoram` (HVM): one `<video>` whose model is `vga`, `cirrus` or
///   `qxl` with `vram` in KiB (xl's default card is cirrus; the default RAM is xl's for qemu-xen: 16 MiB for stdvga,
///   8 for cirrus, 128 for qxl); `none`, no `<video>`.
///
/// Nothing else maps: `viridian` in particular has no effect through the libxl driver (it reads neither
/// `<viridian/>` nor `<hyperv>`), so a case that sets it runs on xl only.
public enum XLConfigMapping {
    /// The guest's `xl-config:` keys libvirt cannot express, in plan order: keys without an equivalent, keys whose
    /// equivalent does not apply to this guest type, values the equivalent cannot hold. Empty when all map.
    public static func unmappedKeys(_ spec: GuestSpec) -> [String] {
        spec.xlConfig.filter { !maps($0, type: spec.type) }.map(\.key)
    }

    /// Whether `setting` has an equivalent for a guest of `type`.
    static func maps(_ setting: XLConfigSetting, type: GuestType) -> Bool {
        switch setting.key {
        case "hap": type != .pv && setting.value.boolean != nil
        case "pae", "acpi", "apic": type == .hvm && setting.value.boolean != nil
        case "vga": type == .hvm && videoModels[setting.value.description] != nil
        case "videoram": type == .hvm && (setting.value.integer ?? -1) > 0
        default: false
        }
    }

    /// xl's `vga` values and libvirt's video model for each (nil: no video card), with xl's default video RAM in MiB.
    static let videoModels: [String: (model: String?, defaultMiB: Int)] = [
        "stdvga": ("vga", 16), "cirrus": ("cirrus", 8), "qxl": ("qxl", 128), "none": (nil, 0),
    ]

    /// Whether the guest has `feature` (`acpi`, `apic`): what the plan's `xl-config:` says, or `otherwise`.
    static func has(_ feature: String, _ spec: GuestSpec, otherwise: Bool) -> Bool {
        guard spec.type == .hvm, let value = spec.xlConfigValue(feature)?.boolean else { return otherwise }
        return value
    }

    /// The `<features>` children the plan's `xl-config:` adds besides `<acpi/>` and `<apic/>`: `<pae/>`, `<hap/>`.
    static func extraFeatures(_ spec: GuestSpec, indent: String) -> [String] {
        var features: [String] = []
        if has("pae", spec, otherwise: false) { features.append(indent + "<pae/>") }
        if spec.type != .pv, let hap = spec.xlConfigValue("hap")?.boolean {
            features.append(indent + "<hap state='\(hap ? "on" : "off")'/>")
        }
        return features
    }

    /// The `<video>` the plan's `vga` and `videoram` ask for; nil when they ask for none (or say nothing).
    static func videoXML(_ spec: GuestSpec, indent: String) -> String? {
        guard spec.type == .hvm else { return nil }
        let vga = spec.xlConfigValue("vga")?.description
        let videoram = spec.xlConfigValue("videoram")?.integer
        guard vga != nil || videoram != nil, let card = videoModels[vga ?? "cirrus"], let model = card.model else {
            return nil
        }
        let vram = (videoram ?? card.defaultMiB) * 1024
        return "\(indent)<video><model type='\(model)' vram='\(vram)'/></video>"
    }
}
