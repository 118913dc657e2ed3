// swift-tools-version: 6.1
// Throughput benchmarks of the cilbench engine for ordo-one/benchmark. A separate package
// so that the main package, its tests and CI never fetch or build the benchmark driver.
import PackageDescription

let package = Package(
    name: "cilbench-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, because a path dependency's identity is its directory name (a worktree or
        // checkout may be called anything).
        .package(name: "cilbench", path: ".."),
        // Only the malloc interposer trait: the default "RuntimeInterposer" trait pulls in
        // ordo-one/swift-runtime-interposer, which is not available offline here and only
        // adds ARC counters that these benchmarks do not use.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "TrainingStep",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CILKernels", package: "cilbench"),
                .product(name: "CILNetworks", package: "cilbench"),
            ],
            path: "TrainingStep",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
