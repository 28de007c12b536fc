// swift-tools-version:6.1
import PackageDescription

// Release code is built for x86-64-v3 (Haswell and later: AVX2 and FMA): `Exp` uses fused multiply-adds,
// which are then single instructions (elsewhere they would be libm calls, with the same bits but slowly).
// Swift never contracts a * b + c by itself, so the flag changes speed, not results.
#if arch(x86_64)
let cpu: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let cpu: [SwiftSetting] = []
#endif

let package = Package(
    name: "ConvexForgetting",
    products: [
        .library(name: "ConvexForgetting", targets: ["ConvexForgetting"]),
        .executable(name: "forgetting", targets: ["forgetting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // The only place that speaks C: OpenBLAS (CBLAS) and LAPACKE, Debian's libopenblas-dev and liblapacke-dev.
        .systemLibrary(
            name: "CLinearAlgebra",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .target(
            name: "ConvexForgetting",
            dependencies: ["CLinearAlgebra", .product(name: "Yams", package: "Yams")],
            swiftSettings: cpu
        ),
        .executableTarget(
            name: "forgetting",
            dependencies: [
                "ConvexForgetting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpu
        ),
        .testTarget(
            name: "ConvexForgettingTests",
            dependencies: [
                "ConvexForgetting",
                "forgetting",  // built first, so that the CLI tests can run the executable
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ]
)
