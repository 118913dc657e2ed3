// swift-tools-version: 6.1
// cilbench: class-incremental learning research, reproducible and checkable.
import PackageDescription

let package = Package(
    name: "cilbench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cilbench", targets: ["cilbench"]),
        .library(name: "CILKernels", targets: ["CILKernels"]),
        .library(name: "CILNetworks", targets: ["CILNetworks"]),
        .library(name: "CILData", targets: ["CILData"]),
        .library(name: "CILMethods", targets: ["CILMethods"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    // Every target lists every package module beneath it, not only the ones it names in
    // `import`. SwiftPM reruns a module's compile only when a listed dependency's
    // .swiftmodule changes, and a module's .swiftmodule is left untouched when its own
    // interface did not change. Without the full list, a change of a class's stored
    // properties in CILKernels (say) left test modules that reach it through CILNetworks
    // with their stale, cross-module-inlined code: an allocating initializer that asked
    // for the old, smaller instance size, and heap corruption in incremental release builds.
    targets: [
        // System libraries from Debian: libopenblas-dev, libdnnl-dev, libzstd-dev.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        // libjpeg62-turbo-dev and zlib1g-dev, for ImageNet JPEGs and gzip'd idx files.
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // libpng-dev, for PNG images in folder datasets.
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),

        // Tensors, random streams, digests and every compute kernel (the only code that
        // calls oneDNN/OpenBLAS or starts threads).
        .target(name: "CILKernels", dependencies: ["CBLAS", "CDNNL", "CConv3x3"]),
        // Hand-written AVX2/FMA 3x3 convolution kernels (C, dispatched at run time).
        .target(name: "CConv3x3", path: "Sources/CConv3x3"),
        // Reverse-mode autodiff, layers, models, optimisers, schedules.
        .target(name: "CILNetworks", dependencies: ["CILKernels"]),
        // Dataset readers, class orders, augmentation, loaders.
        .target(name: "CILData", dependencies: ["CILKernels", "CJPEG", "CZlib", "CPNG"]),
        // The method plug-in contract, shared machinery (herding, memory) and built-in methods.
        .target(name: "CILMethods", dependencies: ["CILKernels", "CILNetworks"]),
        // Protocol files, the phase runner, evaluation, metrics, checkpoints, bundles, reports.
        .target(name: "CILHarness", dependencies: [
            "CILKernels", "CILNetworks", "CILData", "CILMethods", "CZstd",
            .product(name: "Yams", package: "Yams"),
        ]),
        // Embeds the sources' git revision at build time (manifests, phase-0 cache keys).
        .plugin(name: "EmbedRevision", capability: .buildTool(), path: "Sources/EmbedRevision"),
        .executableTarget(
            name: "cilbench",
            dependencies: [
                "CILKernels", "CILNetworks", "CILData", "CILMethods", "CILHarness",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["EmbedRevision"]
        ),
        .testTarget(name: "CILKernelsTests", dependencies: ["CILKernels"]),
        .testTarget(name: "CILNetworksTests", dependencies: ["CILKernels", "CILNetworks"]),
        .testTarget(name: "CILDataTests", dependencies: ["CILKernels", "CILData"]),
        .testTarget(name: "CILMethodsTests", dependencies: ["CILKernels", "CILNetworks", "CILData", "CILMethods", "CILHarness"]),
        .testTarget(name: "CILHarnessTests", dependencies: ["CILKernels", "CILNetworks", "CILData", "CILMethods", "CILHarness"]),
    ],
    swiftLanguageModes: [.v6]
)
