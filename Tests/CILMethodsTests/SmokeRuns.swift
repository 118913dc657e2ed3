import CILData
import CILHarness
import CILMethods

/// End-to-end runs on the synthetic configuration of CILHarnessTests' RunnerTests: 10
/// classes in 3 phases (4 + 3 + 3), 8×8 images, ResNet-32, 5 + 3 + 3 epochs at a constant
/// rate, 5 exemplars per class; about two seconds per run.
enum SmokeRuns {
    static func configuration() throws -> RunConfiguration {
        let train = try SyntheticImages.dataset(classCount: 10, perClass: 40, height: 8, width: 8, seed: 1, split: "train")
        let test = try SyntheticImages.dataset(classCount: 10, perClass: 10, height: 8, width: 8, seed: 2, split: "test")
        let crop = Preprocessing(spatial: .randomCrop(size: 8, padding: 1), horizontalFlip: true, brightness: nil, normalization: .measured(on: train))
        let plain = Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: .measured(on: train))
        return RunConfiguration(
            train: train, test: test, classOrder: ClassOrder.numpyShuffle(seed: 1993, classCount: 10),
            schedule: try PhaseSchedule(totalClasses: 10, initialClasses: 4, increment: 3), memory: .perClass(5),
            backbone: .resnet32, trainPreprocessing: crop, testPreprocessing: plain,
            optimization: Optimization(epochs: 3, batchSize: 32, learningRate: 0.05),
            baseOptimization: Optimization(epochs: 5, batchSize: 32, learningRate: 0.1),
            aanets: nil, seed: 7)
    }

    /// Runs `method` end to end and returns its phase records and the final network.
    static func run(_ method: any IncrementalMethod) throws -> (records: [PhaseOutcome], network: Network) {
        let runner = try Runner(configuration: configuration(), method: method, engine: ComputeEngine(threads: 2))
        let records = try runner.run()
        return (records, runner.network!)
    }

    static func run(_ name: String, _ settings: [String: String] = [:]) throws -> [PhaseOutcome] {
        try run(MethodRegistry.make(name, settings: MethodSettings(settings))).records
    }

    /// Average incremental accuracy including phase 0 ([AAN] `trainer/trainer.py`
    /// l.182-184), CNN or NME.
    static func average(_ records: [PhaseOutcome], nme: Bool = false) -> Double {
        records.map { nme ? ($0.nmeAccuracy ?? .nan) : $0.cnnAccuracy }.reduce(0, +) / Double(records.count)
    }

    /// The fine-tuning lower bound every method must beat, run once per test process.
    static let finetune = Result { try run("finetune") }
}

/// Wraps a method and forwards every member of the plug-in contract to it unchanged; test
/// witnesses subclass it and override the hooks they observe.
class ForwardingMethod: IncrementalMethod {
    class var name: String { "forwarding-method" }
    static let summary = "test wrapper"
    static let settingKeys: [String] = []
    let inner: any IncrementalMethod

    required init(settings: MethodSettings) throws { throw MethodError.unsupported("construct with init(wrapping:)") }
    init(wrapping inner: any IncrementalMethod) { self.inner = inner }

    var resolvedSettings: [String: String] { inner.resolvedSettings }
    var usesExemplars: Bool { inner.usesExemplars }
    var trainingData: TrainingData { inner.trainingData }
    var gradientClamp: Double? { inner.gradientClamp }
    var phaseZeroSignature: String { inner.phaseZeroSignature }
    var referenceAlphaGradient: ReferenceAlphaGradient { inner.referenceAlphaGradient }
    func backbone(for architecture: ResNetArchitecture) -> ResNetArchitecture { inner.backbone(for: architecture) }
    func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        inner.makeHead(featureDimension: featureDimension, classes: classes, seed: seed)
    }
    func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        try inner.beginPhase(context, network: network, newClassFeatures: newClassFeatures)
    }
    func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        try inner.loss(g, network: network, batch: batch, context: context)
    }
    func endPhase(_ context: PhaseContext, network: Network) throws { try inner.endPhase(context, network: network) }
    func didBuildAggregation(_ context: PhaseContext, network: Network) throws { try inner.didBuildAggregation(context, network: network) }
    func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement] {
        return try inner.afterExemplarSelection(context, network: network, data: data)
    }
}

/// Checks, at the end of every phase's training (before `afterExemplarSelection`, where
/// PODNet's finetuning may move every head block, as its code does), that the head
/// parameters frozen when the phase began were not modified, whatever the head type.
final class FrozenHeadWitness: ForwardingMethod {
    override class var name: String { "frozen-head-witness" }
    private var frozen: [(name: String, value: [Float])] = []
    private(set) var changedPhases: [Int] = []
    private(set) var checkedPhases: [Int] = []

    override func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        try super.beginPhase(context, network: network, newClassFeatures: newClassFeatures)
        frozen = network.head.parameters.filter { !$0.isTrainable }.map { ($0.name, $0.value.floats) }
    }

    override func endPhase(_ context: PhaseContext, network: Network) throws {
        try super.endPhase(context, network: network)
        guard context.phase > 0, !frozen.isEmpty else { return }
        checkedPhases.append(context.phase)
        let now = Dictionary(network.head.parameters.map { ($0.name, $0.value.floats) }, uniquingKeysWith: { a, _ in a })
        if frozen.contains(where: { now[$0.name] != $0.value }) { changedPhases.append(context.phase) }
    }
}
