import CILKernels
import CZstd
import Foundation

/// What a run's numbers may depend on beyond the code and the protocol (the CIL harnesses we
/// know do not record the environment with the results, though e.g. torch 1.2 vs 1.7 moves
/// PODNet-NME by about 4 points: arthurdouillard/incremental_learning.pytorch issue #31): OS, CPU model, the engine's ISA,
/// OpenBLAS core, library versions and thread count, and the Swift compiler.
public enum RunEnvironment {
    /// The host's description merged with `engine` (`ComputeEngine.environment`).
    public static func collect(engine: [String: String]) -> [String: String] {
        var env = engine
        env["os"] = osDescription()
        env["cpu_model"] = cpuModel() ?? "unknown"
        env["cpu_count"] = String(ProcessInfo.processInfo.activeProcessorCount)
        env["swift_version"] = swiftVersion
        env["zstd_version"] = String(cString: ZSTD_versionString())
        return env
    }

    /// Convenience for a live engine.
    public static func collect(engine: ComputeEngine) -> [String: String] { collect(engine: engine.environment) }

    static func osDescription() -> String {
        var name = "unknown"
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            name = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        var u = utsname()
        uname(&u)
        let kernel = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(name), kernel \(kernel)"
    }

    static func cpuModel() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }

    /// The compiler this binary was built with (there is no run-time query).
    static let swiftVersion: String = {
        #if compiler(>=6.4)
        return "6.4 or later"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()
}
