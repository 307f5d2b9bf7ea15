#!/usr/bin/env python3
"""Generate a large, realistic xentest plan for benchmarking `xentest validate`.

Usage: generate_plan.py N OUT_DIR

Writes OUT_DIR/bench-N.yaml: one plan file with guests and N cases spread evenly over the four rc6 areas
(lifecycle, pci-passthrough, cpu-hotplug, network). The cases are variations on testplans/rc6/*.yaml:
named and inline guests, every kind of step, expectations, retries, notes, prerequisites and known issues.
The plan must validate cleanly; the path of the file is printed on stdout.
"""

import os
import sys

AREAS = ["lifecycle", "pci-passthrough", "cpu-hotplug", "network"]

# Guest kinds; each is defined in several variants (memory, vCPUs) so that cases refer to many guests.
GUEST_KINDS = {
    "pv-small": {"type": "pv"},
    "pv-hotplug": {"type": "pv", "vcpus": 1, "maxvcpus": 4},
    "hvm-hotplug": {"type": "hvm", "vcpus": 1, "maxvcpus": 4},
    "hvm-unplug": {"type": "hvm", "vcpus": 2, "maxvcpus": 4},
    "pv-net": {"type": "pv", "nics": 1},
    "pv-passthrough": {"type": "pv", "passthrough": "true"},
    "pv-with-nic": {"type": "pv", "pci": "[nic]"},
    "hvm-with-gpu": {"type": "hvm", "pci": "[gpu]"},
}
MEMORY = ["256M", "512M", "1G", "384MiB"]
PCI_PATTERN = r"'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]'"


def guest_name(kind, variant):
    return f"{kind}-{variant}"


def guests_yaml(variants):
    lines = ["guests:"]
    for kind, spec in GUEST_KINDS.items():
        for variant in range(variants):
            lines.append(f"  {guest_name(kind, variant)}:")
            lines.append(f"    type: {spec['type']}")
            memory = "1G" if kind == "hvm-with-gpu" else MEMORY[variant % len(MEMORY)]
            lines.append(f"    memory: {memory}")
            for key in ("vcpus", "maxvcpus", "nics", "passthrough", "pci"):
                if key in spec:
                    lines.append(f"    {key}: {spec[key]}")
    return lines


def steps(*items):
    """Steps as YAML lines; each item is 'action[: value]' or (action, {option: value, ...})."""
    lines = ["    steps:"]
    for item in items:
        action, options = (item, {}) if isinstance(item, str) else item
        lines.append(f"      - {action}" if ":" in action else f"      - {action}:")
        for key, value in options.items():
            lines.append(f"        {key}: {value}")
    return lines


def header(case_id, title, area, guest=None, extra=()):
    lines = [f"  - id: {case_id}", f"    title: {title}", f"    area: {area}"]
    lines += list(extra)
    if guest is not None:
        lines.append(f"    guest: {guest}")
    return lines


def lifecycle(i, n, g):
    cid = f"lifecycle-{n:04d}"
    variant = i % 4
    if variant == 0:
        return header(cid, f"Create a guest, see it listed, destroy it ({n})", "lifecycle", g("pv-small")) + steps(
            "create", ("list", {"expect": "{state: running}"}), "destroy", ("list", {"expect": "{state: gone}"})
        )
    if variant == 1:
        return header(cid, f"Pause and unpause a running guest ({n})", "lifecycle", g("pv-small")) + steps(
            "create",
            "pause",
            ("list", {"expect": "{state: paused}"}),
            "unpause",
            ("list", {"expect": "{state: running}"}),
            "destroy",
        )
    if variant == 2:
        return header(
            cid,
            f"Shut a guest down cleanly ({n})",
            "lifecycle",
            g("pv-small"),
            ["    tags: [shutdown]", "    timeout: 8m"],
        ) + steps(
            "create",
            "wait-for-state: running",
            ("shutdown", {"note": "The guest's init powers off when asked; `xl shutdown -w` waits for it."}),
            ("list", {"expect": "{state: gone}"}),
        )
    return header(
        cid, f"Create a paused HVM guest and start it ({n})", "lifecycle", "{type: hvm, memory: 512M}"
    ) + steps(
        "create: paused",
        ("list", {"expect": "{state: paused}"}),
        "unpause",
        ("wait-for-state: running", {"timeout": "90s"}),
        "destroy",
        "wait-for-state: gone",
    )


def pci(i, n, g):
    cid = f"pci-passthrough-{n:04d}"
    variant = i % 4
    if variant == 0:
        return header(cid, f"Make a device assignable and give it back to dom0 ({n})", "pci-passthrough") + steps(
            "pci-assignable-add: nic",
            ("pci-assignable-list", {"expect": "{contains: nic}"}),
            "pci-assignable-remove: nic",
            ("pci-assignable-list", {"expect": "{lacks: nic}"}),
        )
    if variant == 1:
        return header(
            cid, f"Boot a guest with a device passed through ({n})", "pci-passthrough", g("pv-with-nic")
        ) + steps(
            "pci-assignable-add: nic",
            "create",
            ("pci-list", {"expect": "{contains: nic}"}),
            (
                "guest-exec: ls /sys/bus/pci/devices",
                {
                    "expect": "{output-matches: " + PCI_PATTERN + "}",
                    "retry-for": "15s",
                    "note": "In a PV guest the device shows on the pcifront bus.",
                },
            ),
            "destroy",
            ("pci-assignable-list", {"expect": "{contains: nic}"}),
            "pci-assignable-remove: nic",
        )
    if variant == 2:
        return header(
            cid,
            f"Hot-attach a device to a running guest and detach it again ({n})",
            "pci-passthrough",
            g("pv-passthrough"),
            ["    tags: [hotplug]"],
        ) + steps(
            "pci-assignable-add: nic",
            "create",
            "pci-attach: nic",
            ("pci-list", {"expect": "{contains: nic}"}),
            "pci-detach: nic",
            ("pci-list", {"expect": "{lacks: nic}"}),
            "destroy",
            "pci-assignable-remove: nic",
        )
    return header(
        cid,
        f"Pass a graphics card with a large BAR through to an HVM guest ({n})",
        "pci-passthrough",
        g("hvm-with-gpu"),
        [
            "    tags: [large-bar, graphics]",
            "    description: >",
            "      Only for testers who have a graphics card with a lot of video RAM: name it in the host file",
            "      as `gpu: {address: ..., large-bar: true}`.",
            "    requires:",
            "      - large-bar-device: gpu",
            "      - min-free-memory: 2G",
            "    backends: [xl, libvirt]",
        ],
    ) + steps(
        "pci-assignable-add: gpu",
        "create",
        ("pci-list", {"expect": "{contains: gpu}"}),
        ("guest-exec: ls /sys/bus/pci/devices", {"expect": "{output-matches: " + PCI_PATTERN + "}", "retry-for": "30s"}),
        "destroy",
        ("pci-assignable-list", {"expect": "{contains: gpu}"}),
        "pci-assignable-remove: gpu",
    )


def cpu(i, n, g):
    cid = f"cpu-hotplug-{n:04d}"
    variant = i % 4
    if variant == 0:
        return header(cid, f"Hot-add vCPUs to a PV guest (1 -> 2 -> 4) ({n})", "cpu-hotplug", g("pv-hotplug")) + steps(
            "create",
            ("vcpu-list", {"expect": "{online-vcpus: 1}"}),
            "vcpu-set: 2",
            ("vcpu-list", {"expect": "{online-vcpus: 2}"}),
            "vcpu-set: 4",
            ("vcpu-list", {"expect": "{online-vcpus: 4}"}),
            "destroy",
        )
    if variant == 1:
        return header(
            cid,
            f"Hot-add vCPUs to an HVM guest, seen inside the guest ({n})",
            "cpu-hotplug",
            g("hvm-hotplug"),
            ["    tags: [qemu-xen, headline]", "    requires: [{min-host-cpus: 4}]"],
        ) + steps(
            "create",
            "vcpu-set: 2",
            ("vcpu-list", {"expect": "{online-vcpus: 2}"}),
            ("guest-exec: cat /sys/devices/system/cpu/online", {"expect": "{output-matches: '^0-1$'}", "retry-for": "30s"}),
            "vcpu-set: 4",
            ("guest-exec: cat /sys/devices/system/cpu/online", {"expect": "{output-matches: '^0-3$'}", "retry-for": "30s"}),
            "destroy",
        )
    if variant == 2:
        return header(
            cid, f"Asking for more vCPUs than maxvcpus fails with a clear message ({n})", "cpu-hotplug", g("pv-hotplug")
        ) + steps(
            "create",
            ("vcpu-set: 5", {"expect": "{fails-matching: 'maxcpus is 4|exceeds maximum|greater than max'}"}),
            ("vcpu-list", {"expect": "{online-vcpus: 1}"}),
            "destroy",
        )
    return header(
        cid,
        f"Hot-remove a vCPU from an HVM guest ({n})",
        "cpu-hotplug",
        g("hvm-unplug"),
        [
            "    tags: [qemu-xen]",
            "    known-issue:",
            "      - summary: vCPU hot-unplug was not supported by qemu-xen in Xen 4.3",
            "        link: https://lists.xenproject.org/archives/html/xen-devel/",
            "        xen: '< 4.4'",
            "      - summary: vCPU hot-unplug under QEMU software emulation times out",
            "        drivers: [qemu]",
        ],
    ) + steps(
        "create",
        "vcpu-set: 1",
        ("vcpu-list", {"expect": "{online-vcpus: 1}", "retry-for": "15s"}),
        "destroy",
    )


def network(i, n, g):
    cid = f"network-{n:04d}"
    variant = i % 4
    if variant == 0:
        return header(cid, f"A guest with a vif on the bridge pings dom0, and dom0 pings it ({n})", "network", g("pv-net")) + steps(
            "create",
            ("network-list", {"expect": "{count: 1}"}),
            ("ping: guest", {"retry-for": "30s"}),
            "ping: host",
            "destroy",
        )
    if variant == 1:
        return header(cid, f"Hot-attach a second vif and detach it ({n})", "network", g("pv-net")) + steps(
            "create",
            "network-attach",
            ("network-list", {"expect": "{count: 2}"}),
            "network-detach",
            ("network-list", {"expect": "{count: 1}"}),
            "destroy",
        )
    if variant == 2:
        return header(cid, f"A hot-attached vif shows up inside the guest ({n})", "network", g("pv-net")) + steps(
            "create",
            "network-attach",
            ("guest-exec: ls /sys/class/net", {"expect": "{output-matches: 'eth1'}", "retry-for": "15s"}),
            "network-detach",
            "destroy",
        )
    return header(
        cid,
        f"netback advertises split event channels and netfront uses them ({n})",
        "network",
        g("pv-net"),
        ["    backends: [xl]", "    requires: [{xen: '>= 4.3'}]"],
    ) + steps(
        "create",
        (
            "xenstore-read: /local/domain/0/backend/vif/{domid}/0/feature-split-event-channels",
            {"expect": "{equals: '1'}"},
        ),
        (
            "xenstore-read: /local/domain/{domid}/device/vif/0/event-channel-tx",
            {"retry-for": "15s", "note": "A frontend that uses the feature writes event-channel-tx and -rx."},
        ),
        "destroy",
    )


GENERATORS = {"lifecycle": lifecycle, "pci-passthrough": pci, "cpu-hotplug": cpu, "network": network}


def generate(count):
    variants = max(1, count // 100)
    lines = [
        f"# Generated by benchmarks/generate_plan.py {count}: a synthetic plan for timing `xentest validate`.",
        "release: 4.3.0-rc6",
        f"title: Synthetic benchmark plan with {count} cases",
        "summary: >",
        "  Variations on the rc6 cases (lifecycle, PCI passthrough, CPU hotplug, network), generated to measure",
        "  how fast a large plan loads and validates.",
    ]
    lines += guests_yaml(variants)
    lines.append("cases:")
    per_area = [0] * len(AREAS)
    for index in range(count):
        area_index = index % len(AREAS)
        area = AREAS[area_index]
        i = per_area[area_index]
        per_area[area_index] += 1

        def g(kind, i=i):
            return guest_name(kind, (i // 4) % variants)

        lines += GENERATORS[area](i, index + 1, g)
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: generate_plan.py N OUT_DIR\n")
        return 2
    try:
        count = int(argv[1])
    except ValueError:
        count = -1
    if count < 1:
        sys.stderr.write(f"N must be a positive whole number, not {argv[1]!r}\n")
        return 2
    out_dir = argv[2]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"bench-{count}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(generate(count))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
