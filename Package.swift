// swift-tools-version:6.1
import PackageDescription

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
            dependencies: ["CLinearAlgebra", .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "forgetting",
            dependencies: [
                "ConvexForgetting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
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
