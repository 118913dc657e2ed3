import ArgumentParser
import CILNetworks
import Foundation

/// `cilbench bench`: training-step throughput of the cases the PyTorch anchor measures,
/// plus per-layer convolution GFLOP/s.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training-step throughput (images/s, batch 128) and per-layer conv GFLOP/s.")

    @Option(parsing: .unconditional, help: "Threads for oneDNN and OpenBLAS, 1 to the CPU count.") var threads = 2
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Timed steps per case (median reported).") var iterations = 10
    @Option(help: "Comma-separated cases (default: all): \(TrainingStepCase.allCases.map(\.rawValue).joined(separator: ", ")).")
    var cases: String?
    @Flag(help: "A short run: 3 timed steps per case, no per-layer table.") var quick = false
    @Flag(help: "Print one JSON object mapping each case to images/s.") var json = false
    @Flag(help: "Also print where each case's step time goes, per kernel kind.") var profile = false
    @Flag(help: "Also measure the FP32 FMA peak of the engine's threads and give each case's floor: its convolution work (taps inside the image) at that peak.")
    var roofline = false
    @Flag(help: "Time each case and conv layer with cilbench's 3x3 kernels and with oneDNN's, step by step in alternation.")
    var compareConv3x3 = false
    @Flag(help: "The same A/B as --compare-conv3x3 with the Winograd engine (AVX-512 only; the default there) against oneDNN's direct kernels.")
    var compareWinograd = false

    func run() throws {
        let engine: ComputeEngine
        do { engine = try ComputeEngine(threads: try checkedThreads(threads)) } catch let error as ExitCode { throw error } catch { throw failure("\(error)") }
        var selected = TrainingStepCase.allCases
        if let cases {
            selected = try cases.split(separator: ",").map { name in
                guard let c = TrainingStepCase(rawValue: String(name)) else {
                    throw ValidationError("unknown case '\(name)'; known: \(TrainingStepCase.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return c
            }
        }
        let steps = quick ? 3 : iterations
        if compareConv3x3 || compareWinograd { return try compare(selected, steps: steps, kernel: compareWinograd ? .winograd : .direct) }
        var results: [(TrainingStepCase, Double, Double)] = []
        var convolutionWork: [TrainingStepCase: ConvolutionWorkCounter] = [:]
        // Measured before any case, on an otherwise idle team.
        let peak = roofline && !json ? engine.measureFMAPeak() : nil
        if !json {
            let env = engine.environment
            print("# cilbench bench: batch \(batch), threads \(threads), oneDNN \(env["onednn_version"] ?? "?") ISA \(env["onednn_isa"] ?? "?"), OpenBLAS \(env["openblas_core"] ?? "?"), OMP_WAIT_POLICY \(env["omp_wait_policy"] ?? "?"), 3x3 convs \(env["conv3x3_kernel"] ?? "?"), \(steps) timed steps (median)")
            print("| case | ms/batch | images/s |")
            print("|---|---|---|")
        }
        for c in selected {
            let workload = TrainingStepWorkload(c, engine: engine, batch: batch)
            let (ms, ips) = try workload.measure(iterations: steps, warmup: quick ? 1 : 2)
            results.append((c, ms, ips))
            if !json { print("| \(c.rawValue) | \(String(format: "%.1f", ms)) | \(String(format: "%.0f", ips)) |"); fflush(nil) }
            if peak != nil {
                let counter = ConvolutionWorkCounter()
                engine.observer = counter
                try workload.step()
                engine.observer = nil
                convolutionWork[c] = counter
            }
            if profile {
                let profiler = KernelProfiler()
                engine.observer = profiler
                profiler.mark()
                for _ in 0..<steps { try workload.step() }
                engine.observer = nil
                for row in profiler.report.prefix(25) {
                    let ms = row.milliseconds / Double(steps)
                    var rate = ""
                    if let peak, let work = convolutionWork[c]?.multiplyAdds[row.kind] {
                        let gflops = 2 * work / 1e9 / (ms / 1000)
                        rate = " \(String(format: "%.0f", gflops)) GFLOP/s on in-image taps, \(String(format: "%.0f", 100 * gflops / peak.gflops))% of the FMA peak |"
                    }
                    print("|   \(row.kind) | \(String(format: "%.2f", ms)) ms/step | \(row.calls / steps) calls/step |\(rate)")
                }
            }
        }
        if let peak, !json {
            let perThread = peak.perThread.map { String(format: "%.1f", $0) }.joined(separator: " + ")
            print("\n# roofline: FP32 FMA peak \(String(format: "%.1f", peak.gflops)) GFLOP/s measured on \(threads) threads at once (\(perThread), \(peak.vectorBits)-bit FMAs)")
            if engine.conv3x3Kernel == .winograd {
                print("# (the floor is direct convolution's: the Winograd kernels this engine runs do fewer multiplies and can beat it)")
            }
            print("| case | conv GFLOP/step (taps inside the image) | floor ms (that work at the peak) | measured ms | share of peak |")
            print("|---|---|---|---|---|")
            for (c, ms, _) in results {
                let gflop = 2 * (convolutionWork[c]?.total ?? 0) / 1e9
                let floor = gflop / peak.gflops * 1000
                print("| \(c.rawValue) | \(String(format: "%.2f", gflop)) | \(String(format: "%.1f", floor)) | \(String(format: "%.1f", ms)) | \(String(format: "%.0f", 100 * floor / ms))% |")
            }
        }
        if json {
            let body = results.map { "\"\($0.0.rawValue)\": \(String(format: "%.1f", $0.2))" }.joined(separator: ", ")
            print("{\(body)}")
            return
        }
        if !quick {
            print("\n| conv layer (batch \(batch)) | fwd GFLOP/s | bwd-data GFLOP/s | bwd-weights GFLOP/s |")
            print("|---|---|---|---|")
            for layer in try engine.benchmarkConvolutionLayers(batch: batch) {
                print("| \(layer.name) | \(String(format: "%.0f", layer.forwardGFLOPS)) | \(String(format: "%.0f", layer.backwardDataGFLOPS)) | \(String(format: "%.0f", layer.backwardWeightsGFLOPS)) |")
            }
        }
        let cache = engine.primitiveCacheSummary
        print("peak resident memory: \(String(format: "%.0f", peakResidentMegabytes())) MiB; oneDNN primitives: \(cache.count) holding "
              + "\(String(format: "%.0f", Double(cache.residentBytes) / 1_048_576)) MiB, \(cache.dropped) dropped over the cache budget")
    }
}

extension BenchCommand {
    /// The A/B table: every case and layer on two engines that differ only in who runs the
    /// 3x3 stride-1 convolutions, timed in alternation.
    func compare(_ selected: [TrainingStepCase], steps: Int, kernel: Conv3x3Kernel) throws {
        let candidate = try ComputeEngine(threads: try checkedThreads(threads), conv3x3: kernel)
        let onednn = try ComputeEngine(threads: try checkedThreads(threads), conv3x3: .onednn)
        guard candidate.conv3x3Kernel == kernel else {
            throw failure(kernel == .winograd ? "oneDNN has no Winograd kernels for this CPU (they need AVX-512)" : "this CPU lacks AVX2/FMA: cilbench's 3x3 kernels do not run here")
        }
        let name = kernel == .winograd ? "oneDNN Winograd" : "cilbench 3x3"
        print("# cilbench bench --compare-\(kernel == .winograd ? "winograd" : "conv3x3"): batch \(batch), threads \(threads), \(steps) timed steps per engine, in alternation (medians)")
        print("| case | \(name) ms | oneDNN direct ms | speed-up |")
        print("|---|---|---|---|")
        for c in selected {
            let (a, b) = try TrainingStepWorkload.measureInterleaved(
                TrainingStepWorkload(c, engine: candidate, batch: batch), TrainingStepWorkload(c, engine: onednn, batch: batch),
                iterations: steps, warmup: quick ? 1 : 2)
            print("| \(c.rawValue) | \(String(format: "%.1f", a)) | \(String(format: "%.1f", b)) | \(String(format: "%.2f", b / a))x |")
            fflush(nil)
        }
        if quick { return }
        print("\n| conv layer (batch \(batch)), nominal GFLOP/s \(name) / oneDNN direct | fwd | bwd-data | bwd-weights |")
        print("|---|---|---|---|")
        for row in try candidate.compareConvolutionLayers(with: onednn, batch: batch) {
            let cells = row.passes.map { String(format: "%.0f / %.0f", $0.0, $0.1) }
            print("| \(row.name) | \(cells.joined(separator: " | ")) |")
        }
    }
}

/// VmHWM from /proc/self/status (Linux), in MiB.
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}
