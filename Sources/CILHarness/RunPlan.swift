import CILData
import CILMethods
import Foundation

/// A protocol, a method (with or without the AANets switch) and a seed, resolved into what
/// the runner needs: loaded datasets, the method plug-in and every setting.
public struct RunPlan {
    public let protocolFile: CILProtocol
    public let methodName: String
    public let aanets: Bool
    public let seed: UInt64
    public let configuration: RunConfiguration
    public let method: any IncrementalMethod
    /// SHA-256 over the images and labels actually used, so two runs on different copies of
    /// a dataset are told apart.
    public let datasetDigest: String
    /// Facts about the data for the manifest (folder digest, decoding, measured statistics).
    public let datasetRecord: [String: String]

    /// Name of the run's folder: the method, with `+aanets` when the switch is on.
    public var variantName: String { aanets ? "\(methodName)+aanets" : methodName }

    /// What makes two runs the same run: protocol fingerprint, method, its settings, switch
    /// and seed. Checkpoints and phase caches are keyed by it.
    public var runFingerprint: String {
        let settings = method.resolvedSettings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let text = "\(protocolFile.fingerprint)|\(variantName)|\(settings)|seed=\(seed)"
        return SHA256.hex(of: Array(text.utf8))
    }

    /// The content address of this run's phase 0: the protocol's settings except the method
    /// blocks, what the method does in phase 0, whether it keeps exemplars, the seed, the
    /// thread count and the build. LUCIR, iCaRL and their AANets versions share one.
    public func phaseZeroKey(threads: Int, build: String) -> String {
        Self.phaseZeroKey(protocol: protocolFile, methodName: methodName, method: method, classMeanViews: configuration.classMeanViews,
                          seed: seed, threads: threads, build: build)
    }

    /// The same key from the protocol alone, without loading any data: the grid's plan
    /// groups its cells by it.
    public static func phaseZeroKey(protocol file: CILProtocol, method methodName: String, seed: UInt64, threads: Int, build: String) throws -> String {
        let (method, settings) = try makeMethod(methodName, protocol: file)
        let views = ClassMeanViews.forPreprocessing(file.settings(forMethod: methodName).preprocessing, fidelity: try settings.fidelity())
        return phaseZeroKey(protocol: file, methodName: methodName, method: method, classMeanViews: views, seed: seed, threads: threads, build: build)
    }

    static func phaseZeroKey(protocol file: CILProtocol, methodName: String, method: any IncrementalMethod, classMeanViews: ClassMeanViews,
                             seed: UInt64, threads: Int, build: String) -> String {
        // Method hyper-parameters are left out (the method's phase-0 signature says which
        // matter there), but a method block's own backbone, preprocessing and training
        // override the protocol's, so they stay in.
        let own = ["backbone", "preprocessing", "training."].map { "methods.\(methodName).\($0)" }
        let settings = file.canonicalText.split(separator: "\n")
            .filter { line in !line.hasPrefix("methods.") || own.contains { line.hasPrefix($0) } }.joined(separator: "\n")
        // The class-mean views (G1) change phase 0's NME record, so they are part of the key.
        let text = "\(settings)|\(method.phaseZeroSignature)|exemplars=\(method.usesExemplars)|class_mean_views=\(classMeanViews.rawValue)|seed=\(seed)|threads=\(threads)|build=\(build)"
        return SHA256.hex(of: Array(text.utf8))
    }

    /// The method plug-in with the settings of its block in the protocol.
    public static func makeMethod(_ methodName: String, protocol file: CILProtocol) throws -> (any IncrementalMethod, MethodSettings) {
        var values: [String: String] = [:]
        for (key, value) in file.settings(forMethod: methodName).hyperParameters { values[key] = value.plainText }
        let settings = MethodSettings(values)
        return (try MethodRegistry.make(methodName, settings: settings), settings)
    }

    public init(protocol file: CILProtocol, method methodName: String, aanets: Bool, seed: UInt64, dataRoot: String?, threads: Int,
                datasetCache: String? = nil) throws {
        protocolFile = file
        self.methodName = methodName
        self.aanets = aanets
        self.seed = seed
        let block = file.settings(forMethod: methodName)
        let methodSettings: MethodSettings
        (method, methodSettings) = try Self.makeMethod(methodName, protocol: file)
        // `fidelity` sits in the method's block (or `--set methods.<m>.fidelity=…`): every
        // method accepts it, the harness applies it (G1, G3, G13).
        let fidelity = try methodSettings.fidelity()

        // CIFAR-10, image folders and Tiny-ImageNet load in DatasetLoading.
        let loaded = try DatasetLoading.load(file.dataset, totalClasses: file.totalClasses, dataRoot: dataRoot,
                                             measureStatistics: block.preprocessing == .resizeCropMeasured, cacheFolder: datasetCache, threads: threads)
        let (train, test, channels) = try loaded.map { ($0.train, $0.test, 3) } ?? Self.loadData(file.dataset, totalClasses: file.totalClasses, dataRoot: dataRoot)
        if loaded == nil { try file.dataset.checkCounts(train: train, test: test, totalClasses: file.totalClasses, dataRoot: dataRoot) }
        datasetDigest = loaded?.digest ?? Self.digest(train, test)
        datasetRecord = loaded?.record ?? [:]
        let training = block.training
        let schedule = training.schedule
        func optimization(phase: Int) -> Optimization {
            Optimization(epochs: training.epochs(phase: phase), batchSize: training.batchSize, learningRate: training.learningRate(phase: phase),
                         momentum: training.momentum, weightDecay: training.weightDecay,
                         schedule: schedule.learningRateSchedule(epochs: training.epochs(phase: phase)), steppedAtEpochStart: schedule.stepsAtEpochStart,
                         lagsOneEpoch: schedule.lagsOneEpoch)
        }
        var aanetsSettings: AANetsSettings?
        if aanets {
            let plug = file.methods["aanets"]?.hyperParameters ?? [:]
            func number(_ key: String, _ fallback: Double) -> Double { plug[key]?.doubleValue ?? fallback }
            aanetsSettings = AANetsSettings(
                initialAlpha: number("alpha_init", 0.5), alphaLearningRate: number("alpha_lr", 1e-8),
                alphaMomentum: number("alpha_momentum", 0.9), alphaWeightDecay: number("alpha_weight_decay", 5e-4),
                alphaSchedule: schedule.alphaLearningRateSchedule(epochs: training.incrementalEpochs),
                balancedPerClass: file.memory.exemplarsPerClass(seenClasses: file.totalClasses),
                balancedBatchSize: Int(number("alpha_batch_size", Double(training.testBatchSize))))
        }
        let imageSize = loaded?.imageSide ?? (file.dataset.kind == .fashionMNIST ? 32 : (file.dataset.imageSize ?? 32))
        let measured = loaded?.measuredNormalization
        configuration = RunConfiguration(
            train: train, test: test, inputChannels: channels, classOrder: file.classOrder, schedule: file.phases, memory: file.memory,
            backbone: block.backbone.architecture,
            trainPreprocessing: try block.preprocessing.preprocessing(train: true, imageSize: imageSize, measured: measured),
            testPreprocessing: try block.preprocessing.preprocessing(train: false, imageSize: imageSize, measured: measured),
            optimization: optimization(phase: 1), baseOptimization: optimization(phase: 0), aanets: aanetsSettings,
            seed: seed, threads: threads, evaluationBatchSize: training.testBatchSize,
            fidelity: fidelity, classMeanViews: .forPreprocessing(block.preprocessing, fidelity: fidelity))
    }

    /// Reads the protocol's dataset from `dataRoot` (or the Debian path for Fashion-MNIST),
    /// keeping the first n images per class when the protocol asks for fewer.
    static func loadData(_ spec: DatasetSpec, totalClasses: Int, dataRoot: String?) throws -> (any ImageSource, any ImageSource, Int) {
        func limit(_ data: ImageDataset, _ perClass: Int?) throws -> ImageDataset {
            guard let perClass else { return data }
            return try data.firstImages(perClass: perClass)
        }
        switch spec.kind {
        case .synthetic:
            let size = spec.imageSize ?? 32, seed = UInt64(spec.syntheticSeed ?? 0)
            let train = try SyntheticImages.dataset(classCount: totalClasses, perClass: spec.trainImagesPerClass ?? 50, height: size, width: size, seed: seed, split: "train")
            let test = try SyntheticImages.dataset(classCount: totalClasses, perClass: spec.testImagesPerClass ?? 10, height: size, width: size, seed: seed &+ 1, split: "test")
            return (train, test, 3)
        case .fashionMNIST:
            let root = dataRoot ?? FashionMNIST.debianRoot
            let train = try limit(FashionMNIST.read(root: root, split: .train), spec.trainImagesPerClass).padded(to: 32, channels: 3)
            let test = try limit(FashionMNIST.read(root: root, split: .test), spec.testImagesPerClass).padded(to: 32, channels: 3)
            return (train, test, 3)
        case .cifar100:
            guard let root = dataRoot else { throw HarnessError.mismatch("CIFAR-100 needs --data-root (a folder holding cifar-100-binary/ or cifar-100-python/)") }
            let read = { (split: CIFAR.Split) throws -> ImageDataset in
                // The binary form when it is there (its errors are the user's answer, never
                // swallowed), else the Python pickles.
                do { return try CIFAR.readBinary(root: root, variant: .cifar100, split: split) } catch DataError.missingSplit, DataError.missingFile {
                    return try CIFAR.readPickle(root: root, variant: .cifar100, split: split)
                }
            }
            return (try limit(read(.train), spec.trainImagesPerClass), try limit(read(.test), spec.testImagesPerClass), 3)
        case .cifar10, .imageFolder, .tinyImageNet:
            throw HarnessError.mismatch("\(spec.kind.rawValue) is loaded by DatasetLoading")
        case .imageNet, .imageNetSubset:
            guard let root = dataRoot else { throw HarnessError.mismatch("ImageNet needs --data-root (the ILSVRC-2012 folder holding train/ and val/)") }
            let variant: ImageNet.Variant = spec.subset.map { .subset($0) } ?? .full
            let train = try ImageNet.open(root: root, split: "train", variant: variant).dataset
            let test = try ImageNet.open(root: root, split: "val", variant: variant).dataset
            return (train, test, 3)
        }
    }

    /// SHA-256 of every label and, for in-memory datasets, every pixel (file-backed datasets
    /// are digested by their labels and sizes; `cilbench data check` hashes their files).
    static func digest(_ train: any ImageSource, _ test: any ImageSource) -> String {
        var bytes: [UInt8] = []
        for source in [train, test] {
            bytes += Array("\(source.count)|".utf8)
            for label in source.labels { withUnsafeBytes(of: Int32(label).littleEndian) { bytes += $0 } }
            if let data = source as? ImageDataset { bytes += data.pixels }
        }
        return SHA256.hex(of: bytes)
    }
}

extension ProtocolValue {
    /// The value as a method reads it: strings unquoted, numbers and booleans as written.
    var plainText: String {
        if case .string(let s) = self { return s }
        return description
    }
}
