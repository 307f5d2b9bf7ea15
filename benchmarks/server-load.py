#!/usr/bin/env python3
"""xentest-server under a TestDay's load (issue 12, item 5): a benchmark, not a timed test.

    benchmarks/server-load.py --database sqlite|postgres|both [--hosts 200] [--cases 40] [--releases 3]
                              [--clients 16] [--server .build/debug/xentest-server]

For each database it generates HOSTS x RELEASES distinct reports of CASES cases (release candidates
4.17.0-rc4..rc6 when RELEASES is 3; steps and evidence like a real run's; some cases fail, so the history labels
have work), starts its own xentest-server on 127.0.0.1 (port 0) on a fresh SQLite folder or a fresh PostgreSQL
database, adds a token, and submits every run from CLIENTS concurrent clients (one keep-alive connection each).
A few runs are sent twice during the load and again after it (they must be stored once: 200 "already"). Then it
reads the release's matrix page and its JSON a few times, reads the server's peak RSS (VmHWM), stops the server and
counts the runs and case verdicts back from the database: they must equal what the server acknowledged (201), else
it prints LOST: ... and exits 1. Any answer other than 201/200-already is an error, printed, and exits 1 too.

Prints submissions per second, latency p50/p99/max, the matrix page's time (median), peak RSS, the server's and
(PostgreSQL) its backend's CPU time, and the load average, as a table per database.

PostgreSQL: --postgres-url names an admin database of a running cluster (default scripts/postgres's,
postgres://postgres@127.0.0.1:55432/postgres); the benchmark drops and recreates --postgres-db (xentest_bench) there
for each measurement, and counts back with psql. The cluster itself is left running.

Python 3 standard library only. Figures: build with `swift build -c release --product xentest-server` and pass
--server .build/release/xentest-server (the default, the debug build, makes two to three times fewer
submissions a second).
"""

import argparse
import base64
import concurrent.futures
import glob
import hashlib
import http.client
import io
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

ALL_RCS = [f"4.17.0-rc{n}" for n in range(1, 7)]
TESTER = "bench"

# (id, area, title): the shape of rc6's plan, 40 cases.
CATALOGUE = (
    [
        ("lifecycle-create-destroy", "lifecycle", "Create a guest and destroy it"),
        ("lifecycle-pause-unpause", "lifecycle", "Pause a running guest and unpause it"),
        ("lifecycle-shutdown", "lifecycle", "Shut a guest down from dom0"),
        ("lifecycle-reboot", "lifecycle", "Reboot a guest from dom0"),
        ("pci-assignable", "pci-passthrough", "Make a device assignable and give it back to dom0"),
        ("pci-boot-with-device", "pci-passthrough", "Boot a guest with a PCI device"),
        ("pci-hotplug-attach-detach", "pci-passthrough", "Hot-plug a PCI device and unplug it"),
        ("pci-large-bar-gpu", "pci-passthrough", "Pass through a device with a large BAR"),
        ("cpu-hotplug-pv-add", "cpu-hotplug", "Add vCPUs to a PV guest"),
        ("cpu-hotplug-pv-add-in-guest", "cpu-hotplug", "Added vCPUs come online in a PV guest"),
        ("cpu-hotplug-hvm-add", "cpu-hotplug", "Add vCPUs to an HVM guest"),
        ("cpu-hotplug-above-max", "cpu-hotplug", "More vCPUs than the maximum is refused"),
        ("cpu-hotplug-hvm-unplug", "cpu-hotplug", "Remove a vCPU from an HVM guest"),
        ("cpu-hotplug-pv-remove", "cpu-hotplug", "Remove a vCPU from a PV guest"),
        ("network-vif-ping", "network", "A guest's vif answers ping"),
        ("network-attach-detach", "network", "Attach a vif and detach it"),
        ("network-attach-in-guest", "network", "An attached vif appears in the guest"),
        ("network-split-event-channels", "network", "Split event channels for a vif"),
        ("network-guest-to-guest", "network", "Two guests on one bridge reach each other"),
        ("network-mtu", "network", "A vif with a jumbo MTU"),
    ]
    + [
        (f"{name}.{kind}", "general", f"{title} ({kind.upper()})")
        for name, title in [
            ("general-save-restore", "Save a guest and restore it"),
            ("general-local-migrate", "Migrate a guest to the same host"),
            ("general-reboot", "Reboot a guest from inside"),
            ("general-disk-hotplug", "Hot-plug a disk"),
        ]
        for kind in ("pv", "pvh", "hvm")
    ]
    + [
        ("general-balloon", "general", "Balloon a guest down and up"),
        ("general-mem-max", "general", "Raise a guest's maximum memory"),
        ("general-vcpu-pin", "general", "Pin a guest's vCPUs"),
        ("general-disk-qcow2", "general", "Boot a guest from a qcow2 disk"),
        ("xenstore-read-write", "xenstore", "Read and write a guest's xenstore keys"),
        ("xenstore-watch", "xenstore", "A watch fires on a write"),
        ("xenstore-permissions", "xenstore", "A guest cannot read another's keys"),
        ("xenstore-transactions", "xenstore", "A transaction commits or retries"),
    ]
)

STEP_LABELS = [
    ("create", "succeeds"),
    ("list", "the guest is running"),
    ("wait-for-console", "the guest's console answers"),
    ("vcpu-set 2", "succeeds"),
    ("check-online", "2 vCPUs online in the guest"),
    ("mem-set 192M", "succeeds"),
    ("attach", "succeeds"),
    ("check-in-guest", "the device appears in the guest"),
    ("detach", "succeeds"),
    ("save", "succeeds"),
    ("restore", "succeeds"),
    ("ping", "the guest answers"),
]

GUEST_CONFIG = """name = "xentest-{run}-{case}"
type = "{kind}"
memory = 256
maxmem = 512
vcpus = 1
maxvcpus = 4
kernel = "/var/lib/xentest/guest/vmlinuz"
ramdisk = "/var/lib/xentest/guest/initrd.gz"
extra = "console=hvc0 loglevel=4 xentest.ip=10.254.{net}.2/24"
vif = [ "bridge=xenbr0,mac=00:16:3e:{mac}" ]
disk = [ "format=raw,vdev=xvda,access=rw,target=/var/lib/xentest/images/xentest-{run}-{case}.img" ]
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
"""

DOMAIN_XML = """<domain type='xen'>
  <name>xentest-{run}-{case}</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static' current='1'>4</vcpu>
  <os>
    <type arch='x86_64'>{kind}</type>
    <kernel>/var/lib/xentest/guest/vmlinuz</kernel>
    <initrd>/var/lib/xentest/guest/initrd.gz</initrd>
    <cmdline>console=hvc0 loglevel=4 xentest.ip=10.254.{net}.2/24</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <interface type='bridge'><source bridge='xenbr0'/><mac address='00:16:3e:{mac}'/></interface>
    <console type='pty'><target type='xen' port='0'/></console>
  </devices>
</domain>
"""

XL_LIST = """Name                                        ID   Mem VCPUs\tState\tTime(s)
Domain-0                                     0  2048     2     r-----    1843.2
xentest-{run}-{case}                        {domid}   256     1     -b----       0.4
"""


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Generator:
    """Reports of a TestDay: host h runs every release once; verdicts deterministic from (host, case, release)."""

    def __init__(self, hosts, cases, releases, seed):
        self.hosts = hosts
        self.releases = releases
        self.seed = seed
        catalogue = list(CATALOGUE)
        while len(catalogue) < cases:
            catalogue.append((f"general-extra-{len(catalogue)}", "general", f"Extra case {len(catalogue)}"))
        self.catalogue = catalogue[:cases]
        self.run_ids = set()

    def rng(self, *key):
        return random.Random(hashlib.sha256(repr((self.seed,) + key).encode()).digest())

    def run_id(self, host, release):
        rng = self.rng("run", host, release)
        while True:
            candidate = "%06x" % rng.getrandbits(24)
            if candidate not in self.run_ids:
                self.run_ids.add(candidate)
                return candidate

    def facts(self, host):
        name = f"testday-{host:03d}"
        facts = {
            "hostname": name,
            "cpus": 8 + 8 * (host % 4),
            "cpuModel": ["Intel(R) Xeon(R) Gold 6230", "AMD EPYC 7302P", "Intel(R) Core(TM) i7-9700"][host % 3],
            "totalMemoryMiB": 32768 * (1 + host % 4),
            "freeMemoryMiB": 30000 * (1 + host % 4) - 2048,
            "virtCaps": ["pv", "hvm", "pvh"],
            "bridges": ["xenbr0"],
            "runsGuestCode": True,
            "iommu": host % 5 == 0,
            "hvm": True,
            "pvh": True,
            "pciDevicesWithoutReset": [],
            "xenVersion": "4.17.0-rc",
            "kernel": "6.1.0-27-amd64",
            "diskFormats": ["raw", "qcow2"],
        }
        if host % 4 == 3:
            # libvirt over SSH: each host is its own matrix column (a local URI would name no host).
            facts.update(
                toolstack="libvirt Xen driver",
                libvirtURI=f"xen+ssh://root@{name}/system",
                libvirtDriver="Xen",
                libvirtVersion="9.0.0",
                hypervisorVersion="4.17.0",
            )
        else:
            facts.update(toolstack="xl", factsSource="libxl")
        return facts

    def status(self, host, index, case_id, release_index):
        """The case's status and, for a failure, the step it fails at; patterns that give each label."""
        rng = self.rng("status", host, case_id, release_index)
        last = len(self.releases) - 1
        if case_id.startswith("pci-") and host % 5 != 0:
            return "skip", None
        if case_id.endswith(".pvh") and host % 3 == 1:
            return "skip", None
        if case_id == "network-split-event-channels" and host % 4 == 1:
            return "fail", 2  # never pass
        if case_id == "cpu-hotplug-hvm-unplug" and host % 4 == 3:
            return "xfail", 3
        if index % 9 == 3 and host % 7 == 0 and release_index == last:
            return "fail", 1  # REGR. vs the previous release candidate
        if index % 11 == 5 and host % 6 == 2 and release_index >= max(1, last - 1):
            return "fail", 2  # like the previous release candidate
        roll = rng.random()
        if roll < 0.03:
            return "fail", rng.randrange(1, 4)
        if roll < 0.036:
            return "error", 0
        if roll < 0.04:
            return "timeout", rng.randrange(1, 3)
        return "pass", None

    def evidence(self, xl, step_label, run, case, rng, net, mac, kind):
        items = []
        if xl:
            if step_label == "create":
                items.append(
                    ("command", "xl", ["create", f"/etc/xen/xentest/xentest-{run}-{case}.cfg"],
                     "Parsing config from /etc/xen/xentest/xentest-%s-%s.cfg\n" % (run, case)
                     + GUEST_CONFIG.format(run=run, case=case, kind=kind, net=net, mac=mac))
                )
            items.append(
                ("command", "xl", ["list", f"xentest-{run}-{case}"],
                 XL_LIST.format(run=run, case=case, domid=rng.randrange(1, 400)))
            )
            if step_label in ("wait-for-console", "check-online", "check-in-guest", "ping"):
                items.append(
                    ("console", "console",
                     [f"echo __XT_\\B_{rng.getrandbits(32):08x}__; cat /sys/devices/system/cpu/online; echo __XT_E_$?__"],
                     "0-1\n" + "".join(f"[{rng.random() * 9:9.6f}] xen: vcpu {i} online\n" for i in range(4)))
                )
            else:
                items.append(
                    ("command", "xl", [step_label.split(" ")[0], f"xentest-{run}-{case}"] + step_label.split(" ")[1:],
                     "")
                )
        else:
            if step_label == "create":
                items.append(
                    ("api", "virDomainDefineXML",
                     [DOMAIN_XML.format(run=run, case=case, kind="hvm" if kind == "hvm" else "xen", net=net, mac=mac)],
                     "")
                )
                items.append(("api", "virDomainCreate", [f"xentest-{run}-{case}"], ""))
            else:
                items.append(("api", "virDomainLookupByName", [f"xentest-{run}-{case}"], ""))
                items.append(("api", "virDomainGetInfo", [f"xentest-{run}-{case}"], ""))
                if step_label in ("wait-for-console", "check-online", "check-in-guest", "ping"):
                    items.append(
                        ("console", "console",
                         [f"echo __XT_\\B_{rng.getrandbits(32):08x}__; cat /sys/devices/system/cpu/online; echo __XT_E_$?__"],
                         "0-1\n")
                    )
        return [
            {
                "kind": kind_,
                "call": call,
                "arguments": arguments,
                "status": 0,
                "output": output,
                "error": "",
                "durationSeconds": round(rng.random() * 0.4, 9),
            }
            for kind_, call, arguments, output in items
        ]

    def step(self, index, label, expected, status, evidence, rng, message=None):
        step = {
            "index": index,
            "label": label,
            "expected": expected,
            "status": status,
            "durationSeconds": round(rng.random() * 2, 6),
            "attempts": 1,
            "evidence": evidence,
        }
        if message:
            step["message"] = message
            step["evidence"][-1]["status"] = 1
            step["evidence"][-1]["error"] = message
        return step

    def case(self, host, index, case_id, area, title, release_index, run, xl):
        status, failing = self.status(host, index, case_id, release_index)
        rng = self.rng("case", host, case_id, release_index)
        kind = case_id.rsplit(".", 1)[1] if "." in case_id else "pv"
        result = {
            "id": case_id,
            "title": title,
            "area": area,
            "backend": "xl" if xl else "libvirt",
            "status": status,
            "durationSeconds": 0,
            "steps": [],
            "teardown": [],
        }
        if status == "skip":
            result["reason"] = (
                "this host has no IOMMU (xl info: virt_caps lacks hvm_directio): it cannot pass PCI devices through"
                if case_id.startswith("pci-")
                else "this host's Xen was built without PVH guest support"
            )
            return result
        shape = self.rng("shape", case_id)
        count = 3 + shape.randrange(0, 7)
        labels = [STEP_LABELS[0]] + shape.sample(STEP_LABELS[1:], count - 1)
        net, mac = host % 250, "%02x:%02x:%02x" % (host % 256, index, release_index)
        steps = []
        for position, (label, expected) in enumerate(labels):
            evidence = self.evidence(xl, label, run, case_id, rng, net, mac, kind)
            if failing is not None and position == min(failing, count - 1):
                message = {
                    "fail": f"expected {expected}, got: the guest did not answer within 30 s",
                    "xfail": "Timed out during operation: vcpu unplug request timed out",
                    "error": "xl exited 255: libxl: error: libxl_create.c:1676: cannot make domain",
                    "timeout": "no answer within 120 s",
                }[status]
                steps.append(self.step(position, label, expected, "timeout" if status == "timeout" else
                                       ("error" if status == "error" else "fail"), evidence, rng, message))
                result["reason"] = f"step {position + 1} ({label}): failed: {message}"
                if status == "xfail":
                    result["knownIssue"] = "vCPU hot-unplug of an HVM guest times out under libvirt"
                    result["reason"] = "known issue: " + result["knownIssue"] + "; " + result["reason"]
                break
            steps.append(self.step(position, label, expected, "pass", evidence, rng))
        teardown = [
            self.step(len(steps), f"teardown: destroy xentest-{run}-{case_id}", "succeeds", "pass",
                      self.evidence(xl, "destroy", run, case_id, rng, net, mac, kind), rng)
        ]
        result["steps"] = steps
        result["teardown"] = teardown
        result["durationSeconds"] = round(sum(s["durationSeconds"] for s in steps + teardown) + 1.5, 6)
        return result

    def report(self, host, release_index):
        release = self.releases[release_index]
        run = self.run_id(host, release)
        facts = self.facts(host)
        xl = facts["toolstack"] == "xl"
        base = datetime(2026, 11, 8, 9, 0, tzinfo=timezone.utc) + timedelta(days=14 * (release_index - len(self.releases) + 3))
        started = base + timedelta(minutes=host * 3, milliseconds=self.rng("ms", host, release).randrange(1000))
        cases = [
            self.case(host, index, case_id, area, title, release_index, run, xl)
            for index, (case_id, area, title) in enumerate(self.catalogue)
        ]
        summary = {key: 0 for key in ("pass", "fail", "error", "skip", "xfail", "xpass", "timeout", "interrupted")}
        for case in cases:
            summary[case["status"]] += 1
        summary["total"] = len(cases)
        finished = started + timedelta(seconds=sum(case["durationSeconds"] for case in cases))
        rc = release.rsplit("-", 1)[1]
        return {
            "schemaVersion": 1,
            "runID": run,
            "plan": rc,
            "planTitle": f"Xen 4.17 {rc.upper()} TestDay",
            "release": release,
            "xentestVersion": "0.1.0",
            "host": facts,
            "hostConfig": f"hosts/{facts['hostname']}.yaml",
            "startedAt": iso(started),
            "finishedAt": iso(finished),
            "interrupted": False,
            "summary": summary,
            "cases": cases,
        }


def archive_of(report):
    """A small .tar.gz as `xentest submit` sends: the journal's first lines and one case's evidence."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        journal = "".join(
            json.dumps({"event": "case-end", "case": case["id"], "status": case["status"]}) + "\n"
            for case in report["cases"][:10]
        ).encode()
        evidence = f"xentest {report['runID']} on {report['host']['hostname']}\n$ xl list\n(ok)\n".encode()
        for name, data in [("journal.jsonl", journal), (f"cases/{report['cases'][0]['id']}/evidence.txt", evidence)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1764000000
            tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(buffer.getvalue()).decode()


# MARK: the server


class Server:
    def __init__(self, binary, store_args, log_path):
        self.binary = binary
        self.store_args = store_args
        self.log_path = log_path
        self.process = None
        self.port = None

    def token(self):
        result = subprocess.run(
            [self.binary, "token", "add", TESTER] + self.store_args, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            sys.exit(f"server-load: token add failed: {result.stderr.strip()}")
        return result.stdout.strip().splitlines()[-1]

    def start(self):
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--listen", "127.0.0.1:0"] + self.store_args,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                match = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", line)
                if match:
                    self.port = int(match.group(1))
                    break
            if self.process.poll() is not None:
                break
        if self.port is None:
            self.stop()
            sys.exit(f"server-load: the server did not start: {line!r}; see {self.log_path}")
        threading.Thread(target=lambda: self.process.stdout.read(), daemon=True).start()

    def status(self):
        fields = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return fields

    def kib(self, key):
        return int(self.status()[key].split()[0])

    def cpu_seconds(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()


def scheduled(pid):
    """Seconds the process's threads ran on a CPU and waited for one (the machine's other load), from schedstat."""
    ran = waited = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as file:
                fields = file.read().split()
        except OSError:
            continue
        ran += int(fields[0])
        waited += int(fields[1])
    return ran / 1e9, waited / 1e9


def cpu_seconds(pid):
    """User and system CPU seconds of a process; 0 for one that has gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# MARK: the clients


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port, token):
        self.port = port
        self.token = token
        self.local = threading.local()

    def connection(self):
        if getattr(self.local, "connection", None) is None:
            self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        return self.local.connection

    def request(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            connection = self.connection()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self.local.connection = None
            return response.status, data, time.perf_counter() - start
        except (OSError, http.client.HTTPException) as error:
            if getattr(self.local, "connection", None) is not None:
                self.local.connection.close()
            self.local.connection = None
            return None, repr(error).encode(), time.perf_counter() - start


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# MARK: the databases


def psql(url, sql):
    result = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-XAtc", sql], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"server-load: psql {sql!r}: {result.stderr.strip()}")
    return result.stdout.strip()


def with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def count_back_sqlite(path):
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(DISTINCT identity) FROM runs),"
            " (SELECT COUNT(*) FROM case_results), (SELECT COUNT(*) FROM runs WHERE archive IS NOT NULL),"
            " (SELECT COUNT(*) FROM hosts)"
        ).fetchone()
    finally:
        connection.close()
    return dict(zip(("runs", "identities", "cases", "archives", "hosts"), row))


def count_back_postgres(url):
    row = psql(
        url,
        "SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(DISTINCT identity) FROM runs),"
        " (SELECT COUNT(*) FROM case_results), (SELECT COUNT(*) FROM runs WHERE archive IS NOT NULL),"
        " (SELECT COUNT(*) FROM hosts)",
    ).split("|")
    return dict(zip(("runs", "identities", "cases", "archives", "hosts"), map(int, row)))


def postgres_backends(url, database):
    """The pids of the server's connections to its database (all but psql's own)."""
    text = psql(url, f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()")
    return [int(pid) for pid in text.split()]


# MARK: one measurement


def loadavg():
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


def measure(kind, args, bodies, expected):
    work = tempfile.mkdtemp(prefix=f"xentest-server-load-{kind}-")
    try:
        if kind == "sqlite":
            data = os.path.join(work, "data")
            store_args = ["--data", data]
            database_file = os.path.join(data, "results.sqlite")
        else:
            admin = args.postgres_url
            psql(admin, f"DROP DATABASE IF EXISTS {args.postgres_db} WITH (FORCE)")
            psql(admin, f"CREATE DATABASE {args.postgres_db}")
            bench_url = with_database(admin, args.postgres_db)
            store_args = ["--database", bench_url]
        server = Server(args.server, store_args, os.path.join(work, "server.log"))
        token = server.token()
        server.start()
        figures = {"database": "SQLite" if kind == "sqlite" else "PostgreSQL"}
        try:
            figures["rss_start_mb"] = server.kib("VmRSS") / 1024
            backend_pids = postgres_backends(admin, args.postgres_db) if kind == "postgres" else []
            backend_cpu0 = sum(map(cpu_seconds, backend_pids))
            client = Client(server.port, token)

            # The load: every run, and DUPLICATES of them a second time, shuffled in (maybe both in flight at once).
            rng = random.Random(args.seed)
            order = list(range(len(bodies)))
            duplicates = rng.sample(order, min(args.duplicates, len(order)))
            jobs = order + duplicates
            rng.shuffle(jobs)
            results = [None] * len(jobs)
            load_before = loadavg()
            cpu0 = server.cpu_seconds()
            _, waited0 = scheduled(server.process.pid)
            own0 = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.clients) as pool:
                futures = {
                    pool.submit(client.request, "POST", "/api/runs", bodies[job]): slot for slot, job in enumerate(jobs)
                }
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future]] = future.result()
            wall = time.perf_counter() - start
            server_cpu = server.cpu_seconds() - cpu0
            _, waited1 = scheduled(server.process.pid)
            own1 = resource.getrusage(resource.RUSAGE_SELF)
            backend_cpu = sum(map(cpu_seconds, backend_pids)) - backend_cpu0
            figures["rss_after_load_mb"] = server.kib("VmHWM") / 1024

            # The same runs again, one at a time, after the load: each must be "already".
            again = [client.request("POST", "/api/runs", bodies[job]) for job in duplicates]

            created, already, errors = 0, 0, []
            for job, (status, data, _) in zip(jobs, results):
                if status == 201:
                    created += 1
                elif status == 200 and b'"already"' in data:
                    already += 1
                else:
                    errors.append((job, status, data[:300]))
            again_already = sum(1 for status, data, _ in again if status == 200 and b'"already"' in data)
            for job, (status, data, _) in zip(duplicates, again):
                if not (status == 200 and b'"already"' in data):
                    errors.append((job, status, data[:300]))
            latencies = [latency for status, _, latency in results if status in (200, 201)]
            figures.update(
                runs=len(bodies),
                requests=len(jobs),
                created=created,
                already=already + again_already,
                duplicates_sent=2 * len(duplicates),
                errors=len(errors),
                wall_s=wall,
                per_s=created / wall,
                mb_per_s=sum(len(bodies[job]) for job in jobs) / wall / 1e6,
                p50_ms=percentile(latencies, 0.5) * 1000,
                p99_ms=percentile(latencies, 0.99) * 1000,
                max_ms=max(latencies, default=float("nan")) * 1000,
                server_cpu_s=server_cpu,
                server_waited_s=waited1 - waited0,
                client_cpu_s=own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime,
                backend_cpu_s=backend_cpu if kind == "postgres" else None,
                load_before=load_before,
                load_after=loadavg(),
            )
            for job, status, data in errors[:10]:
                print(f"  ERROR run {job}: {status} {data.decode(errors='replace')}", file=sys.stderr)

            # The matrix of the newest release: the page and the JSON, each a few times.
            release = expected["release"]
            for name, path in [("page", f"/releases/{release}"), ("api", f"/api/releases/{release}/matrix")]:
                times, size, body = [], 0, b""
                for _ in range(args.matrix_repeats):
                    status, body, elapsed = client.request("GET", path)
                    if status != 200:
                        errors.append(("matrix", status, body[:300]))
                        print(f"  ERROR GET {path}: {status} {body[:300]!r}", file=sys.stderr)
                    times.append(elapsed)
                    size = len(body)
                figures[f"matrix_{name}_ms"] = statistics.median(times) * 1000
                figures[f"matrix_{name}_first_ms"] = times[0] * 1000
                figures[f"matrix_{name}_kb"] = size / 1024
                if name == "api" and status == 200:
                    matrix = json.loads(body)
                    labels = {}
                    for row in matrix["rows"]:
                        for cell in row["cells"]:
                            if cell and cell.get("labelKind"):
                                labels[cell["labelKind"]] = labels.get(cell["labelKind"], 0) + 1
                    figures["matrix_shape"] = f"{len(matrix['columns'])} hosts x {len(matrix['rows'])} cases"
                    figures["labels"] = ", ".join(f"{count} {kind_}" for kind_, count in sorted(labels.items()))
                    if len(matrix["columns"]) != expected["hosts"] or len(matrix["rows"]) != expected["cases"]:
                        errors.append(("matrix", status, f"shape {figures['matrix_shape']}".encode()))
            figures["errors"] = len(errors)
            figures["peak_rss_mb"] = server.kib("VmHWM") / 1024
        finally:
            server.stop()

        counted = count_back_sqlite(database_file) if kind == "sqlite" else count_back_postgres(bench_url)
        figures["counted"] = counted
        lost = []
        if counted["runs"] != figures["created"] or counted["runs"] != expected["runs"]:
            lost.append(f"{counted['runs']} runs stored, {figures['created']} acknowledged, {expected['runs']} sent")
        if counted["identities"] != counted["runs"]:
            lost.append(f"{counted['runs']} runs stored but {counted['identities']} identities: a run stored twice")
        if counted["cases"] != expected["cases_total"]:
            lost.append(f"{counted['cases']} case verdicts stored, {expected['cases_total']} sent")
        if counted["archives"] != expected["archives"]:
            lost.append(f"{counted['archives']} archives stored, {expected['archives']} sent")
        if counted["hosts"] != expected["hosts"]:
            lost.append(f"{counted['hosts']} hosts stored, {expected['hosts']} sent")
        if figures["already"] != figures["duplicates_sent"]:
            lost.append(f"{figures['already']} duplicates answered 'already', {figures['duplicates_sent']} sent")
        figures["lost"] = lost
        return figures
    finally:
        if kind == "postgres" and not args.keep:
            psql(args.postgres_url, f"DROP DATABASE IF EXISTS {args.postgres_db} WITH (FORCE)")
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def table(all_figures):
    def fmt(value, digits=0):
        return "-" if value is None else f"{value:,.{digits}f}"

    rows = [
        ("runs submitted (new + duplicates)", lambda f: f"{f['created']} + {f['duplicates_sent']}"),
        ("errors (not 201 / 200 already)", lambda f: str(f["errors"])),
        ("stored (counted back): runs / cases", lambda f: f"{f['counted']['runs']:,} / {f['counted']['cases']:,}"),
        ("duplicates stored once (200 already)", lambda f: f"{f['already']} of {f['duplicates_sent']}"),
        ("load wall time", lambda f: f"{fmt(f['wall_s'], 1)} s"),
        ("submissions/s", lambda f: fmt(f["per_s"], 1)),
        ("upload MB/s", lambda f: fmt(f["mb_per_s"], 1)),
        ("latency p50 / p99 / max", lambda f: f"{fmt(f['p50_ms'])} / {fmt(f['p99_ms'])} / {fmt(f['max_ms'])} ms"),
        ("server CPU during load", lambda f: f"{fmt(f['server_cpu_s'], 1)} s ({fmt(100 * f['server_cpu_s'] / f['wall_s'])}% of a core)"),
        ("server threads waiting for a CPU", lambda f: f"{fmt(f['server_waited_s'], 1)} s"),
        ("this script's CPU (the clients)", lambda f: f"{fmt(f['client_cpu_s'], 1)} s"),
        ("PostgreSQL backend CPU", lambda f: "-" if f["backend_cpu_s"] is None else f"{fmt(f['backend_cpu_s'], 1)} s"),
        ("matrix page (HTML), median", lambda f: f"{fmt(f['matrix_page_ms'])} ms, {fmt(f['matrix_page_kb'])} KB"),
        ("matrix API (JSON), median", lambda f: f"{fmt(f['matrix_api_ms'])} ms, {fmt(f['matrix_api_kb'])} KB"),
        ("matrix", lambda f: f.get("matrix_shape", "-")),
        ("labels in the matrix", lambda f: f.get("labels", "-") or "none"),
        ("server RSS: start / after load / peak", lambda f: f"{fmt(f['rss_start_mb'])} / {fmt(f['rss_after_load_mb'])} / {fmt(f['peak_rss_mb'])} MB"),
        ("load average before / after", lambda f: f"{f['load_before']} / {f['load_after']}"),
    ]
    header = "| | " + " | ".join(f["database"] for f in all_figures) + " |"
    print(header)
    print("|---|" + "---:|" * len(all_figures))
    for name, value in rows:
        print(f"| {name} | " + " | ".join(value(f) for f in all_figures) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--releases", type=int, default=3, help="release candidates per host, rc4..rc6 for 3 (at most 6)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients, one connection each")
    parser.add_argument("--duplicates", type=int, default=12, help="runs sent a second time during the load, and a third after it")
    parser.add_argument("--archive-every", type=int, default=3, help="every Nth run carries a small .tar.gz (0: none)")
    parser.add_argument("--matrix-repeats", type=int, default=5)
    parser.add_argument("--server", default=".build/debug/xentest-server")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:55432/postgres",
                        help="an admin database of a running cluster (scripts/postgres start)")
    parser.add_argument("--postgres-db", default="xentest_bench", help="dropped and recreated for each measurement")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the data folder, the server's log and the database")
    args = parser.parse_args()
    if not 1 <= args.releases <= len(ALL_RCS):
        parser.error(f"--releases is 1 to {len(ALL_RCS)}")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.postgres_db):
        parser.error("--postgres-db: lower-case letters, digits and _")
    if not os.access(args.server, os.X_OK):
        sys.exit(f"server-load: no server at {args.server}: swift build -c release --product xentest-server")

    releases = ALL_RCS[-args.releases:]
    generator = Generator(args.hosts, args.cases, releases, args.seed)
    started = time.perf_counter()
    bodies, archives = [], 0
    for release_index in range(len(releases)):
        for host in range(args.hosts):
            report = generator.report(host, release_index)
            submission = {"report": report}
            if args.archive_every and len(bodies) % args.archive_every == 0:
                submission["archive"] = archive_of(report)
                archives += 1
            bodies.append(json.dumps(submission, separators=(",", ":")).encode())
    sizes = [len(body) for body in bodies]
    print(
        f"generated {len(bodies)} runs ({args.hosts} hosts x {len(releases)} releases x {args.cases} cases, "
        f"{archives} with an archive) in {time.perf_counter() - started:.1f} s: {sum(sizes) / 1e6:.1f} MB, "
        f"{statistics.mean(sizes) / 1024:.0f} KB a run (min {min(sizes) / 1024:.0f}, max {max(sizes) / 1024:.0f}); "
        f"{args.clients} clients; server {args.server}",
        file=sys.stderr,
    )
    expected = {
        "runs": len(bodies),
        "cases_total": len(bodies) * args.cases,
        "archives": archives,
        "hosts": args.hosts,
        "cases": args.cases,
        "release": releases[-1],
    }
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    all_figures = []
    for kind in kinds:
        print(f"{kind}: submitting...", file=sys.stderr)
        figures = measure(kind, args, bodies, expected)
        all_figures.append(figures)
        print(f"{kind}: {figures['per_s']:.1f} runs/s, p50 {figures['p50_ms']:.0f} ms", file=sys.stderr)
    print()
    print(
        f"{args.hosts} hosts x {args.cases} cases x {len(releases)} releases = {len(bodies)} runs, "
        f"{args.clients} clients, {sum(sizes) / 1e6:.0f} MB; server {args.server}; "
        f"{os.cpu_count()} CPUs; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print()
    table(all_figures)
    failed = False
    for figures in all_figures:
        for problem in figures["lost"]:
            print(f"LOST: {figures['database']}: {problem}")
            failed = True
        if figures["errors"]:
            print(f"ERRORS: {figures['database']}: {figures['errors']} requests not answered 201/200-already")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
