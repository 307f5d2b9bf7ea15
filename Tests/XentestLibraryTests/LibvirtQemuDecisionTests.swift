import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport

@Suite("libvirt backend on QEMU and Xen: what it decides without a daemon") struct LibvirtQemuDecisionTests {
    @Test("a URI without a host name is this machine, so ping: guest can run here") func localURIs() {
        #expect(HostFacts.isLocalLibvirtURI("qemu:///system"))
        #expect(HostFacts.isLocalLibvirtURI("qemu:///session"))
        #expect(HostFacts.isLocalLibvirtURI("test:///default"))
        #expect(HostFacts.isLocalLibvirtURI("qemu+ssh://localhost/system"))
        #expect(!HostFacts.isLocalLibvirtURI("qemu+ssh://root@lab.example/system"))
        #expect(!HostFacts.isLocalLibvirtURI("xen+ssh://10.0.0.5/system"))
    }

    @Test("the case's own network is named after its guest, inside the run's xentest-<run>- namespace")
    func ownNetworkName() {
        #expect(
            LibvirtBackend.ownNetworkName(ofDomain: "xentest-ab12cd-network-vif-ping")
                == "xentest-ab12cd-network-vif-ping-net"
        )
    }

    @Test("QEMU's refusal to unplug a vCPU while the guest boots is told apart from the real timeout")
    func unplugBeforeBoot() {
        #expect(
            LibvirtBackend.isGuestNotReadyForUnplug(
                "internal error: unable to execute QEMU command 'device_del': acpi: device unplug request for not supported device type: qemu64-x86_64-cpu"
            )
        )
        #expect(!LibvirtBackend.isGuestNotReadyForUnplug("Timed out during operation: vcpu unplug request timed out"))
    }

    @Test(
        "on Xen, vcpu-set above the host's CPUs but within the guest's maximum is libvirt's refusal; above the maximum it runs"
    ) func liveVcpuLimit() {
        let reason = LibvirtBackend.liveVcpuLimitReason(count: 4, guestMaximum: 4, limit: 2)
        #expect(reason?.contains("host's 2 CPUs") == true)
        #expect(LibvirtBackend.liveVcpuLimitReason(count: 2, guestMaximum: 4, limit: 2) == nil)
        #expect(
            LibvirtBackend.liveVcpuLimitReason(count: 5, guestMaximum: 4, limit: 2) == nil,
            "refused by every toolstack"
        )
        #expect(LibvirtBackend.liveVcpuLimitReason(count: 4, guestMaximum: 4, limit: nil) == nil, "libvirt did not say")
        #expect(LibvirtBackend.liveVcpuLimitReason(count: 4, guestMaximum: nil, limit: 2) == nil, "no guest")
    }
}
