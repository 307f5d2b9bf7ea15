// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "xentest",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "xentest", targets: ["xentest"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "xentest",
            dependencies: [
                "XentestCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "XentestCore",
            dependencies: [
                "Libvirt",
                "CXenLight",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "Libvirt", dependencies: ["CLibvirt"]),
        // Benchmarks of the harness against the raw C API (benchmarks/README.md); not part of the product.
        .executableTarget(
            name: "xentest-bench",
            dependencies: ["XentestCore", "Libvirt", "CLibvirt"],
            path: "benchmarks/Sources/xentest-bench"
        ),
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CXenLight", pkgConfig: "xenlight", providers: [.apt(["libxen-dev"])]),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt"]),
        .testTarget(
            name: "XentestCoreTests",
            dependencies: ["XentestCore", "Libvirt"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "xentestTests", dependencies: ["XentestCore"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
