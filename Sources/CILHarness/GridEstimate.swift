import CILData
import CILKernels
import CILNetworks
import Foundation

/// What a grid cell will cost before it runs: images × epochs × phases × the method's step
/// cost, priced with this machine's measured throughput (`cilbench bench --quick`'s cases,
/// cached), then, once cells have finished, scaled by how their measured times compare with
/// their estimates.
///
/// The step costs per image (relative to the measured cases, all ResNet-32 on 32×32 at
/// batch 128): phase 0 is a plain training step for every method; incremental phases add a
/// frozen teacher's forward and the distillation (`lucir-train`) except for fine-tuning;
/// AANets trains both branches (`aanets-train`, with the old dual-branch teacher from phase
/// 2, `aanets-train-old`) plus one α pass over the balanced exemplar set per epoch; PODNet
/// adds its class-balanced finetuning epochs, LUCIR its (ImageNet-1k) class-balanced
/// finetuning, Mnemonics its exemplar-optimisation passes (priced at two teacher steps per
/// image); every phase evaluates the test images of the seen classes and herds the new
/// classes' training images (forward passes). Larger inputs and backbones scale by their
/// multiply-adds (ResNet-18 at 224×224 ≈ 1.82 G, ResNet-32 at 32×32 ≈ 69 M). Data loading
/// is not in the cases; for JPEG datasets it adds to the measured times and the
/// calibration from finished cells absorbs it.
public struct GridEstimate: Sendable {
    /// Images per second of each benchmark case at a thread count.
    public struct Throughput: Codable, Sendable, Equatable {
        public var threads: Int
        public var cpu: String
        public var measuredAt: Date
        public var imagesPerSecond: [String: Double]

        public init(threads: Int, cpu: String, measuredAt: Date, imagesPerSecond: [String: Double]) {
            self.threads = threads
            self.cpu = cpu
            self.measuredAt = measuredAt
            self.imagesPerSecond = imagesPerSecond
        }

        func secondsPerImage(_ c: TrainingStepCase) -> Double {
            1 / max(imagesPerSecond[c.rawValue] ?? 1, 1e-6)
        }

        /// Measures every case as `cilbench bench --quick` does: batch 128, 1 warm-up and 3
        /// timed steps, median.
        public static func measure(threads: Int) throws -> Throughput {
            let engine = try ComputeEngine(threads: threads)
            var rates: [String: Double] = [:]
            for c in TrainingStepCase.allCases {
                let workload = TrainingStepWorkload(c, engine: engine, batch: 128)
                rates[c.rawValue] = try workload.measure(iterations: 3, warmup: 1).1
            }
            return Throughput(threads: threads, cpu: cpuName, measuredAt: Date(), imagesPerSecond: rates)
        }

        /// The throughput cached for this CPU and thread count, measured and cached when
        /// there is none. The cache lives in `$CILBENCH_CACHE`, else `$XDG_CACHE_HOME/cilbench`,
        /// else `~/.cache/cilbench`.
        public static func cached(threads: Int, measureIfMissing: Bool = true) throws -> Throughput? {
            let url = cacheFolder.appendingPathComponent("bench-quick-threads-\(threads).json")
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            if let data = FileManager.default.contents(atPath: url.path), let known = try? decoder.decode(Throughput.self, from: data),
               known.cpu == cpuName, known.threads == threads, TrainingStepCase.allCases.allSatisfy({ known.imagesPerSecond[$0.rawValue] != nil }) {
                return known
            }
            guard measureIfMissing else { return nil }
            let measured = try measure(threads: threads)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            // The cache is a convenience: a read-only home only means measuring again next time.
            try? AtomicFile.write(try encoder.encode(measured), to: url)
            return measured
        }

        static var cacheFolder: URL {
            let env = ProcessInfo.processInfo.environment
            if let explicit = env["CILBENCH_CACHE"], !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
            if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("cilbench") }
            return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/cilbench")
        }

        /// The CPU's model name from /proc/cpuinfo, so a cache copied to another machine is not used.
        static var cpuName: String {
            guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                  let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
                  let colon = line.firstIndex(of: ":") else { return "unknown" }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    /// A cell's estimate: wall seconds per phase with `threads` threads.
    public struct CellEstimate: Sendable {
        public var phaseSeconds: [Double]
        public var threads: Int
        public var seconds: Double { phaseSeconds.reduce(0, +) }
        public var cpuHours: Double { seconds * Double(threads) / 3600 }
    }

    public let throughput: Throughput

    public init(throughput: Throughput) { self.throughput = throughput }

    /// The model's wall time of one cell, per phase, before any calibration.
    public func estimate(_ cell: GridCell) -> CellEstimate {
        let file = cell.protocolFile
        let block = file.settings(forMethod: cell.method)
        let spec = file.dataset
        let trainPerClass = Double(spec.trainImagesPerClass ?? Self.averageTrainImagesPerClass(spec))
        let testPerClass = Double(spec.testImagesPerClass ?? spec.fullTestImagesPerClass ?? 10)
        let scale = Self.costScale(block.backbone, imageSize: Self.inputSize(spec))
        let t = throughput
        let plain = t.secondsPerImage(.plainTrain), teacher = t.secondsPerImage(.lucirTrain)
        let dual = t.secondsPerImage(.aanetsTrain), dualOld = t.secondsPerImage(.aanetsTrainOld)
        let forward = t.secondsPerImage(.inference)
        let hyper = block.hyperParameters
        func number(_ key: String) -> Double { hyper[key]?.doubleValue ?? 0 }
        let keepsExemplars = (try? RunPlan.makeMethod(cell.method, protocol: file).0.usesExemplars) ?? true
        var seen = 0
        var phases: [Double] = []
        for k in 0..<file.phases.phaseCount {
            let new = k == 0 ? file.baseClasses : file.classesPerPhase
            let old = seen
            seen += new
            let perOld = keepsExemplars && old > 0 ? Double(min(file.memory.exemplarsPerClass(seenClasses: old), Int(trainPerClass))) : 0
            let memory = perOld * Double(old)
            let images = Double(new) * trainPerClass + memory
            let epochs = Double(block.training.epochs(phase: k))
            var step: Double
            if k == 0 {
                step = plain
            } else if cell.aanets {
                let distils = cell.method != "finetune"
                step = k == 1 ? dual + (distils ? teacher - plain : 0) : (distils ? dualOld : dual)
            } else {
                step = cell.method == "finetune" ? plain : teacher
            }
            var seconds = images * epochs * step
            if k > 0 {
                if cell.aanets {
                    let balanced = Double(file.memory.exemplarsPerClass(seenClasses: file.totalClasses) * seen)
                    seconds += balanced * epochs * dualOld
                }
                switch cell.method {
                case "podnet":
                    seconds += number("finetune_epochs") * Double(file.memory.exemplarsPerClass(seenClasses: seen) * seen) * plain
                case "mnemonics":
                    seconds += number("mnemonics_epochs") * images * 2 * teacher
                default: break
                }
                seconds += number("cbf_epochs") * Double(file.memory.exemplarsPerClass(seenClasses: seen) * seen) * plain
            }
            // Evaluation of the seen classes and herding of the new ones: forward passes
            // (both branches with AANets from phase 1).
            let forwards = Double(seen) * testPerClass + Double(new) * trainPerClass + Double(seen) * perOld
            seconds += forwards * forward * (cell.aanets && k > 0 ? 2 : 1)
            phases.append(seconds * scale)
        }
        return CellEstimate(phaseSeconds: phases, threads: t.threads)
    }

    /// Forward multiply-adds of a backbone at an input side, relative to ResNet-32 at 32×32
    /// (the benchmark's network): ResNet-32 ≈ 69 M at 32×32, ResNet-18 ≈ 1.82 G at 224×224
    /// (He et al. 2016, Table 1 and §4.2), both growing with the input's area.
    public static func costScale(_ backbone: BackboneKind, imageSize: Int) -> Double {
        let area = Double(imageSize * imageSize)
        switch backbone {
        case .resnet32, .podnetResNet32: return area / (32 * 32)
        case .resnet18, .podnetResNet18: return 1.82e9 / 69e6 * area / (224 * 224)
        }
    }

    static func inputSize(_ spec: DatasetSpec) -> Int {
        switch spec.kind {
        case .synthetic: return spec.imageSize ?? 32
        case .fashionMNIST, .cifar100, .cifar10: return 32
        case .imageNet, .imageNetSubset: return 224
        case .tinyImageNet: return spec.imageSize ?? 64
        case .imageFolder: return spec.imageSize ?? 224
        }
    }

    /// Training images per class on average where the protocol takes all (ImageNet classes
    /// hold 732 to 1300; 1,281,167 / 1000 on average, 1300 in the 100-class subsets).
    static func averageTrainImagesPerClass(_ spec: DatasetSpec) -> Int {
        switch spec.kind {
        case .imageNet: return 1281
        case .imageNetSubset: return 1300
        default: return spec.fullTrainImagesPerClass ?? 50
        }
    }
}
