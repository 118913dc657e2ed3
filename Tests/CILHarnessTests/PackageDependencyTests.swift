import Foundation
import Testing

/// Package.swift must list, for every target, every package module beneath it. SwiftPM
/// reruns a module's compile only when a listed dependency's .swiftmodule changes, and a
/// module's .swiftmodule is left untouched when its own interface did not change; a target
/// that reached CILKernels only through CILNetworks kept stale cross-module-inlined code
/// after CILKernels changed a class's stored properties (an allocating initializer asking
/// for the old instance size), which corrupted the heap in incremental builds.
@Suite struct PackageDependencyTests {
    /// Each target's package-internal dependencies, read from Package.swift's
    /// `.target(name: ..., dependencies: [...])` entries (products of other packages are
    /// written `.product(...)` and are not matched).
    static func declaredDependencies() throws -> [String: Set<String>] {
        let manifest = try String(contentsOf: packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        let entry = try Regex(#"\.(?:target|testTarget|executableTarget)\(\s*name:\s*"([A-Za-z0-9_]+)"(?:\s*,\s*path:\s*"[^"]*")?(?:\s*,\s*dependencies:\s*\[([^\]]*)\])?"#)
        let name = try Regex(#""([A-Za-z0-9_]+)""#)
        var targets: [String: Set<String>] = [:]
        for match in manifest.matches(of: entry) {
            guard let target = match.output[1].substring.map(String.init) else { continue }
            let list = match.output[2].substring.map(String.init) ?? ""
            // `.product(name: "Yams", package: "Yams")` names another package's product.
            let withoutProducts = list.replacing(try Regex(#"\.product\([^)]*\)"#), with: "")
            targets[target] = Set(withoutProducts.matches(of: name).compactMap { $0.output[1].substring.map(String.init) })
        }
        return targets
    }

    /// Swift targets only: C targets' headers reach their dependents through the Swift
    /// module that imports them.
    static func isSwiftModule(_ target: String) -> Bool {
        let folder = packageRoot.appendingPathComponent("Sources").appendingPathComponent(target)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.contains { $0.hasSuffix(".swift") }
    }

    @Test func everyTargetListsEveryPackageModuleBeneathIt() throws {
        let declared = try Self.declaredDependencies()
        // The manifest's layers, as a sanity check that the parse saw them.
        #expect(declared["CILHarness"]?.isSuperset(of: ["CILKernels", "CILNetworks", "CILData", "CILMethods"]) == true)
        #expect(declared["CILMethodsTests"] != nil && declared["CILKernelsTests"] != nil)
        func closure(_ target: String, _ seen: inout Set<String>) {
            for dependency in declared[target] ?? [] where !seen.contains(dependency) {
                seen.insert(dependency)
                closure(dependency, &seen)
            }
        }
        for target in declared.keys.sorted() {
            var beneath = Set<String>()
            closure(target, &beneath)
            let missing = beneath.subtracting(declared[target] ?? []).filter(Self.isSwiftModule)
            #expect(missing.isEmpty, "\(target) reaches \(missing.sorted()) without listing them in Package.swift")
        }
    }
}
