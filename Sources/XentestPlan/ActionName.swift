/// The names of the plan language's actions, as steps write them (`- vcpu-set: 2`): the one list of them, in the
/// order the documentation gives them.
public enum ActionName: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case create
    case destroy
    case shutdown
    case pause
    case unpause
    case list
    case vcpuSet = "vcpu-set"
    case vcpuList = "vcpu-list"
    case vcpuPin = "vcpu-pin"
    case pciAssignableAdd = "pci-assignable-add"
    case pciAssignableRemove = "pci-assignable-remove"
    case pciAssignableList = "pci-assignable-list"
    case pciAttach = "pci-attach"
    case pciDetach = "pci-detach"
    case pciList = "pci-list"
    case networkAttach = "network-attach"
    case networkDetach = "network-detach"
    case networkList = "network-list"
    case waitForState = "wait-for-state"
    case waitForConsole = "wait-for-console"
    case stayUp = "stay-up"
    case guestExec = "guest-exec"
    case ping
    case xenstoreRead = "xenstore-read"
    case save
    case restore
    case migrate
    case reboot
    case memSet = "mem-set"
    case memMax = "mem-max"
    case blockAttach = "block-attach"
    case blockDetach = "block-detach"
    case blockList = "block-list"
    case cdInsert = "cd-insert"
    case cdEject = "cd-eject"

    /// The name as a plan writes it, so that `"\(name)"` reads `vcpu-set`, never `vcpuSet`.
    public var description: String { rawValue }

    /// The `expect:` keys this action accepts besides `succeeds` and `fails`.
    var expectationKeys: [String] {
        switch self {
        case .list: ["fails-matching", "state", "memory"]
        case .vcpuList: ["fails-matching", "online-vcpus", "affinity"]
        case .pciList, .pciAssignableList: ["fails-matching", "contains", "lacks"]
        case .networkList, .blockList: ["fails-matching", "count"]
        case .xenstoreRead: ["fails-matching", "equals"]
        case .guestExec: ["fails-matching", "exit-status", "output-matches"]
        case .create, .destroy, .shutdown, .pause, .unpause, .vcpuSet, .vcpuPin, .pciAssignableAdd,
            .pciAssignableRemove, .pciAttach, .pciDetach, .networkAttach, .networkDetach, .waitForState,
            .waitForConsole, .stayUp, .ping, .save, .restore, .migrate, .reboot, .memSet, .memMax, .blockAttach,
            .blockDetach, .cdInsert, .cdEject:
            ["fails-matching"]
        }
    }
}
