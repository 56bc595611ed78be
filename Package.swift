// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Estuary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "estuaryfs", targets: ["estuaryfs"]),
        .executable(name: "estuary", targets: ["estuary"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .target(name: "CShims"),
        .target(name: "Syscalls", dependencies: ["CShims", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "Config", dependencies: []),
        .target(name: "Index", dependencies: ["CSQLite", "Syscalls"]),
        .target(name: "Silos", dependencies: ["Syscalls"]),
        .target(name: "Assimilation", dependencies: ["Index", "Silos", "Syscalls", "CShims"]),
        .target(name: "Namespace", dependencies: ["Index", "Silos", "Syscalls",
                                                  .product(name: "Logging", package: "swift-log")]),
        .target(name: "Tiering", dependencies: ["Index", "Silos", "Namespace", "Syscalls", "CShims", "CXXHash",
                                                .product(name: "Logging", package: "swift-log")]),
        .target(name: "Pool", dependencies: ["Config", "Index", "Silos", "Syscalls", "Assimilation", "ControlProtocol",
                                             .product(name: "Logging", package: "swift-log")]),
        .target(name: "ControlProtocol", dependencies: []),
        .target(name: "FuseKit", dependencies: ["CFuse3", "Syscalls"]),
        .target(name: "Daemon", dependencies: ["Config", "Index", "Silos", "Namespace", "FuseKit", "Assimilation", "Pool", "Tiering",
                                               "ControlProtocol", "Syscalls", "CShims",
                                               .product(name: "Logging", package: "swift-log")]),
        .target(name: "AdminCLI", dependencies: ["Config", "Index", "Silos", "Assimilation", "Pool", "ControlProtocol",
                                                 "Syscalls",
                                                 .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                                 .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "estuaryfs", dependencies: ["Daemon"]),
        .executableTarget(name: "estuary", dependencies: ["AdminCLI"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "IndexTests", dependencies: ["Index", "Silos", "Assimilation", "Syscalls"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Config", "Syscalls", "estuaryfs", "estuary"]),
    ],
    swiftLanguageModes: [.v6]
)
