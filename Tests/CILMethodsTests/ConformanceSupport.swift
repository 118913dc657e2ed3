import CILData
import CILHarness
import CILMethods
import Foundation

/// Where a run stands, as far as the test split is concerned. The test split may be read
/// only in `.evaluation`: after the method's `endPhase` returned and before the runner
/// reports the phase finished — the window in which the harness selects exemplars (from
/// training images) and evaluates.
final class TestSplitGuard: @unchecked Sendable {
    enum Window { case closed, evaluation }

    private let lock = NSLock()
    private var window = Window.closed
    private var insideMethod = false
    private var phaseReads = 0
    /// Test images read in each phase's evaluation window.
    private(set) var evaluationReads: [Int] = []
    /// Reads outside the evaluation window or while method code was running.
    private(set) var forbiddenReads = 0

    func locked<R>(_ body: () -> R) -> R { lock.lock(); defer { lock.unlock() }; return body() }

    func recordRead() {
        locked {
            if window == .evaluation && !insideMethod { phaseReads += 1 } else { forbiddenReads += 1 }
        }
    }
    func enterMethod() { locked { insideMethod = true } }
    func leaveMethod(endOfPhase: Bool) {
        locked {
            insideMethod = false
            if endOfPhase { window = .evaluation }
        }
    }
    func phaseFinished() {
        locked {
            window = .closed
            evaluationReads.append(phaseReads)
            phaseReads = 0
        }
    }
    var snapshot: (evaluationReads: [Int], forbiddenReads: Int) { locked { (evaluationReads, forbiddenReads) } }
}

/// An image source that reports every read to a guard.
struct ProbedImageSource: ImageSource, @unchecked Sendable {
    let base: any ImageSource
    let guardian: TestSplitGuard?

    var count: Int { base.count }
    var labels: [Int] { base.labels }
    var classNames: [String] { base.classNames }

    func withImage<R>(at index: Int, _ body: (ImageView) throws -> R) throws -> R {
        guardian?.recordRead()
        return try base.withImage(at: index, body)
    }
}

extension ImageDataset {
    /// The same labels and image size, every pixel byte `sentinel`.
    func sentinelCopy(_ sentinel: UInt8) throws -> ImageDataset {
        try ImageDataset(name: name + "-sentinel", height: height, width: width, channels: channels,
                         pixels: [UInt8](repeating: sentinel, count: pixels.count), labels: labels, classNames: classNames)
    }
}

/// Wraps any registered method unchanged — every requirement of the plug-in contract is
/// forwarded, so the probed run is the method's own run. It marks when method code runs
/// and when the method's phase is over (for `TestSplitGuard`), and it witnesses the head:
/// after the method's `beginPhase`, every head parameter with `isTrainable == false` — the
/// head itself says which, whatever its type (a cosine head's old weight blocks, an LSC
/// head's old proxy blocks) — is snapshotted, and after the phase's training and `endPhase`
/// it must still be in the head with exactly the same values. What a method does to the head
/// after exemplar selection (`afterExemplarSelection`: LUCIR's class-balanced finetuning,
/// PODNet's balanced finetuning, which trains every proxy block as the reference code
/// does) runs after that check, by design outside the window.
final class ConformanceProbe: IncrementalMethod {
    static let name = "conformance-probe"
    static let summary = "test wrapper"
    static let settingKeys: [String] = []

    let inner: any IncrementalMethod
    let guardian: TestSplitGuard
    private var frozen: [(name: String, parameter: Parameter, values: [Float])] = []
    /// Frozen blocks compared, over all phases.
    private(set) var frozenBlocksChecked = 0
    /// "phase k: block" for every frozen block whose values changed.
    private(set) var frozenBlocksChanged: [String] = []

    init(settings: MethodSettings) throws { throw MethodError.unsupported("construct with init(wrapping:guardian:)") }
    init(wrapping inner: any IncrementalMethod, guardian: TestSplitGuard) {
        self.inner = inner
        self.guardian = guardian
    }

    var resolvedSettings: [String: String] { inner.resolvedSettings }
    var usesExemplars: Bool { inner.usesExemplars }
    var trainingData: TrainingData { inner.trainingData }
    var gradientClamp: Double? { inner.gradientClamp }
    var phaseZeroSignature: String { inner.phaseZeroSignature }
    func backbone(for architecture: ResNetArchitecture) -> ResNetArchitecture { inner.backbone(for: architecture) }
    /// G3 is decided by the wrapped method's reference trainer.
    var referenceAlphaGradient: ReferenceAlphaGradient {
        inner.referenceAlphaGradient
    }

    func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        guardian.enterMethod()
        defer { guardian.leaveMethod(endOfPhase: false) }
        return inner.makeHead(featureDimension: featureDimension, classes: classes, seed: seed)
    }
    func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        guardian.enterMethod()
        defer { guardian.leaveMethod(endOfPhase: false) }
        try inner.beginPhase(context, network: network, newClassFeatures: newClassFeatures)
        frozen = network.head.parameters.filter { !$0.isTrainable }.map { ($0.name, $0, $0.value.floats) }
    }
    func didBuildAggregation(_ context: PhaseContext, network: Network) throws {
        guardian.enterMethod()
        defer { guardian.leaveMethod(endOfPhase: false) }
        try inner.didBuildAggregation(context, network: network)
    }
    func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        guardian.enterMethod()
        defer { guardian.leaveMethod(endOfPhase: false) }
        return try inner.loss(g, network: network, batch: batch, context: context)
    }
    func endPhase(_ context: PhaseContext, network: Network) throws {
        guardian.enterMethod()
        defer { guardian.leaveMethod(endOfPhase: true) }
        try inner.endPhase(context, network: network)
        let current = network.head.parameters
        for block in frozen {
            frozenBlocksChecked += 1
            // The same parameter object still in the head, with bit-identical values.
            if !current.contains(where: { $0 === block.parameter }) || block.parameter.value.floats != block.values {
                frozenBlocksChanged.append("phase \(context.phase): \(block.name)")
            }
        }
        frozen = []
    }
    func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement] {
        guardian.enterMethod()
        defer { guardian.leaveMethod(endOfPhase: false) }
        return try inner.afterExemplarSelection(context, network: network, data: data)
    }
}
