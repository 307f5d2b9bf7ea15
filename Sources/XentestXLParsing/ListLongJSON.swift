import Foundation

/// The part of `xl list -l`'s JSON the parser reads.
enum ListLongJSON {
    struct Entry: Decodable {
        var domid: Int
        var config: Config
    }

    struct Config: Decodable {
        var cInfo: CInfo
        var bInfo: BInfo?
        var nics: [NIC]?
        var pcidevs: [PCIDevice]?

        enum CodingKeys: String, CodingKey {
            case cInfo = "c_info"
            case bInfo = "b_info"
            case nics, pcidevs
        }
    }

    struct CInfo: Decodable {
        var type: String?
        var name: String
        var uuid: String?
        var passthrough: String?
    }

    struct BInfo: Decodable {
        var maxVCPUs: Int?
        var maxMemoryKiB: Int?
        var targetMemoryKiB: Int?

        enum CodingKeys: String, CodingKey {
            case maxVCPUs = "max_vcpus"
            case maxMemoryKiB = "max_memkb"
            case targetMemoryKiB = "target_memkb"
        }
    }

    struct NIC: Decodable {
        var devid: Int?
        var mac: String?
        var bridge: String?
        var nictype: String?
    }

    struct PCIDevice: Decodable {
        var domain: Int?
        var bus: Int?
        var dev: Int?
        var function: Int?

        enum CodingKeys: String, CodingKey {
            case domain, bus, dev
            case function = "func"
        }
    }
}
