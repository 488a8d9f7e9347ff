// swift-tools-version: 6.1
// Measurement prototype: a byte-level HTTP/1.1 forwarder on SwiftNIO (no NIOHTTP1 codecs).
import Foundation
import PackageDescription

// A/B only: FP_NOEXCL=1 builds without dynamic exclusivity checks (use a separate --scratch-path).
let noExclusivity = ProcessInfo.processInfo.environment["FP_NOEXCL"] == "1"

let package = Package(
    name: "fastproxy",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", "2.101.0"..<"2.102.0")
    ],
    targets: [
        .executableTarget(
            name: "fastproxy",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: noExclusivity ? [.unsafeFlags(["-enforce-exclusivity=unchecked"])] : []
        )
    ]
)
