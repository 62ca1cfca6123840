// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "pxed",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pxed", targets: ["pxed"]),
        .executable(name: "ptftpd", targets: ["ptftpd"]),
        .executable(name: "ptftp", targets: ["ptftp"]),
        .executable(name: "pdhcpd", targets: ["pdhcpd"]),
        .executable(name: "pbootpd", targets: ["pbootpd"]),
        .library(name: "TFTP", targets: ["TFTP"]),
        .library(name: "DHCP", targets: ["DHCP"]),
        .library(name: "PXEConfig", targets: ["PXEConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // libyaml from Debian (libyaml-dev); no vendored parser.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "PXEConfig", dependencies: ["CYAML"]),
        // Metric definitions and helpers over swift-metrics (the API the engines record through).
        .target(name: "PXEMetrics", dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")]),
        // epoll and eventfd from the C library (Swift's Glibc module leaves them out).
        .systemLibrary(name: "CLinuxEvents"),
        .target(name: "TFTP", dependencies: [
            "PXEMetrics", "CLinuxEvents",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "DHCP", dependencies: [
            "PXEConfig", "PXEMetrics",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "DHCPv6", dependencies: [
            "PXEConfig",
            "DHCP", "PXEMetrics",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HTTPBoot", dependencies: [
            "TFTP", "PXEMetrics",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The PostgreSQL lease database (issue 19): schema migrations, reads; through postgres-nio.
        .target(name: "LeaseDatabase", dependencies: [
            "DHCP", "PXEConfig",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "PXEDaemon", dependencies: [
            "PXEConfig", "TFTP", "DHCP", "DHCPv6", "HTTPBoot", "PXEMetrics", "LeaseDatabase",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pxed", dependencies: [
            "PXEDaemon", "PXEConfig", "DHCP", "TFTP", "LeaseDatabase",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ptftpd", dependencies: [
            "PXEDaemon", "PXEConfig", "TFTP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ptftp", dependencies: [
            "TFTP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pdhcpd", dependencies: [
            "DHCP", "PXEConfig", "PXEDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The boot-storm load generator (bench/bootstorm.sh): a library and its command line.
        .target(name: "BootStorm", dependencies: [
            "DHCP", "TFTP", "PXEConfig",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .executableTarget(name: "pxestorm", dependencies: [
            "BootStorm", "PXEConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pbootpd", dependencies: [
            "DHCP", "PXEConfig", "PXEDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Fuzz targets: libFuzzer entry points when built by fuzz/run.sh, corpus replayers otherwise.
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        .executableTarget(name: "FuzzTFTP", dependencies: ["FuzzSupport", "TFTP", .product(name: "NIOCore", package: "swift-nio")]),
        .executableTarget(name: "FuzzDHCP", dependencies: ["FuzzSupport", "DHCP", "PXEConfig"]),
        .executableTarget(name: "FuzzDHCPv6", dependencies: ["FuzzSupport", "DHCPv6", "PXEConfig"]),
        .executableTarget(name: "FuzzConfig", dependencies: ["FuzzSupport", "PXEConfig"]),
        .testTarget(name: "TFTPTests", dependencies: ["TFTP", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "PXEConfigTests", dependencies: ["PXEConfig"]),
        .testTarget(name: "BootStormTests", dependencies: ["BootStorm", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "DHCPTests", dependencies: ["DHCP", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "DHCPv6Tests", dependencies: ["DHCPv6", "PXEConfig"]),
        .testTarget(name: "HTTPBootTests", dependencies: ["HTTPBoot", "TFTP", .product(name: "NIOCore", package: "swift-nio"),
                                                          .product(name: "NIOHTTP1", package: "swift-nio")]),
        .testTarget(name: "PXEDaemonTests", dependencies: ["PXEDaemon", "PXEConfig", "TFTP", "DHCP", "PXEMetrics",
                                                           .product(name: "Prometheus", package: "swift-prometheus")]),
    ]
)
