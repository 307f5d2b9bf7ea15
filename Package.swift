// swift-tools-version: 6.2
import PackageDescription

let logging = Target.Dependency.product(name: "Logging", package: "swift-log")

let package = Package(
    name: "xentest",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "xentest", targets: ["xentest"]),
        .executable(name: "xentest-server", targets: ["xentest-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The results server's HTTP: small, no SwiftNIO (a first build of Hummingbird and postgres-nio on 2 cores
        // takes minutes that every CI run pays; FlyingFox about half a minute).
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    // The pipeline's layers, each a target, so that this list is the arrow diagram (README, Layout): a layer
    // names only those below it, and no plan, run or report target names a backend or the lab.
    targets: [
        // The command line: parsing, wiring, printing, signals, exit statuses. The only target that does those.
        .executableTarget(
            name: "xentest",
            dependencies: [
                "XentestBackends", "XentestLab", "XentestReport", "XentestRun", "XentestPlan", "XentestSupport",
                "XentestBackendXL", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Xen in QEMU on this machine, its images from Debian packages, and the test guest built from them.
        .target(
            name: "XentestLab",
            dependencies: [
                "XentestBackends", "XentestXLParsing", "XentestRun", "XentestPlan", "XentestSupport", logging,
            ]
        ),
        // Backend selection: a value in, the xl or libvirt backend out.
        .target(name: "XentestBackends", dependencies: ["XentestBackendXL", "XentestBackendLibvirt", "XentestRun"]),
        // The toolstacks, known to the run only through its `Backend` protocol.
        .target(
            name: "XentestBackendXL",
            dependencies: ["XentestXLParsing", "XentestRun", "XentestPlan", "XentestSupport", "CXenLight", logging]
        ),
        .target(
            name: "XentestBackendLibvirt",
            dependencies: ["XentestXLParsing", "XentestRun", "XentestPlan", "XentestSupport", "Libvirt", logging]
        ),
        // What Xen's `xl` prints, parsed into typed values: pure functions of captured text. Both toolstacks read
        // dom0's `xl info` (libvirt's libxl driver leaves Xen's IOMMU and patch level out), and so does the lab.
        .target(name: "XentestXLParsing", dependencies: ["XentestPlan"]),
        // Pure renderers of a run's result (and of a plan's listing).
        .target(name: "XentestReport", dependencies: ["XentestRun", "XentestPlan", "XentestSupport"]),
        // Planner, runner, events, the result's fold, journal, results directory; the `Backend` protocol.
        .target(name: "XentestRun", dependencies: ["XentestPlan", "XentestSupport", logging]),
        // Plans, host files and host facts: the model, the loader and its diagnostics.
        .target(name: "XentestPlan", dependencies: ["XentestSupport", .product(name: "Yams", package: "Yams")]),
        // What every layer shares: durations and deadlines, commands and their evidence, file writes, coders.
        .target(name: "XentestSupport"), .target(name: "Libvirt", dependencies: ["CLibvirt"]),
        // The results server (`xentest-server`): every tester's runs in SQLite or PostgreSQL, the release matrix,
        // history labels, the JSON API. Its own executable, so the tester's binary and package stay small.
        .executableTarget(
            name: "xentest-server",
            dependencies: [
                "XentestServer", "XentestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "XentestServer",
            dependencies: [
                "XentestReport", "XentestRun", "XentestPlan", "XentestSupport", "CSQLite", "CPostgres",
                .product(name: "FlyingFox", package: "FlyingFox"),
            ]
        ), .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Benchmarks of the harness against the raw C API (benchmarks/README.md); not part of the product.
        .executableTarget(
            name: "xentest-bench",
            dependencies: [
                "XentestBackendLibvirt", "XentestReport", "XentestRun", "XentestPlan", "XentestSupport", "Libvirt",
                "CLibvirt", logging,
            ],
            path: "benchmarks/Sources/xentest-bench"
        ), .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CXenLight", pkgConfig: "xenlight", providers: [.apt(["libxen-dev"])]),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt"]),
        .testTarget(
            name: "XentestLibraryTests",
            dependencies: [
                "XentestLab", "XentestBackends", "XentestBackendXL", "XentestBackendLibvirt", "XentestXLParsing",
                "XentestReport", "XentestRun", "XentestPlan", "XentestSupport", "XentestServer", "Libvirt", logging,
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "xentestTests",
            dependencies: [
                "XentestBackendXL", "XentestReport", "XentestRun", "XentestPlan", "XentestSupport", "XentestServer",
            ]
        ),
    ]
)

// libFuzzer targets for the plan and host-file loaders (benchmarks/fuzz.sh sets XENTEST_FUZZ and builds them with
// -sanitize=fuzzer); left out otherwise, so that neither the normal build nor CI compiles them.
if Context.environment["XENTEST_FUZZ"] != nil {
    let path = "benchmarks/Sources/"
    package.products += ["fuzz-plan", "fuzz-host"].map { .executable(name: $0, targets: [$0]) }
    package.targets += [
        .target(name: "FuzzDriver", path: path + "FuzzDriver"),
        .executableTarget(name: "fuzz-plan", dependencies: ["FuzzDriver", "XentestPlan"], path: path + "fuzz-plan"),
        .executableTarget(name: "fuzz-host", dependencies: ["FuzzDriver", "XentestPlan"], path: path + "fuzz-host"),
    ]
}

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
