/// Where the phase stands, as a method may know it. Class indices are learning positions:
/// classes 0..<oldClasses were learnt before this phase, oldClasses..<seenClasses are new.
public struct PhaseContext {
    public let phase: Int
    public let phaseCount: Int
    public let oldClasses: Int
    public let newClasses: Int
    public var seenClasses: Int { oldClasses + newClasses }
    public let epochs: Int
    /// Exemplars per class the memory keeps after this phase.
    public let exemplarsPerClass: Int
    public let seed: UInt64
    public let engine: ComputeEngine

    public init(phase: Int, phaseCount: Int, oldClasses: Int, newClasses: Int, epochs: Int, exemplarsPerClass: Int, seed: UInt64, engine: ComputeEngine) {
        self.phase = phase
        self.phaseCount = phaseCount
        self.oldClasses = oldClasses
        self.newClasses = newClasses
        self.epochs = epochs
        self.exemplarsPerClass = exemplarsPerClass
        self.seed = seed
        self.engine = engine
    }
}

/// One augmented training batch; labels are learning positions.
public struct TrainingBatch {
    public let images: Tensor
    public let labels: [Int32]

    public init(images: Tensor, labels: [Int32]) {
        self.images = images
        self.labels = labels
    }
}

/// Features of training images (test transform, no augmentation) computed by the harness
/// with the current network, e.g. for weight imprinting.
public protocol TrainingFeatureSource {
    /// Pooled features [n, D] of every training image of the class at `position`.
    func features(ofClass position: Int) throws -> Tensor
}

/// Which training images a phase uses.
public enum TrainingData: Sendable {
    /// The new classes' images and the exemplar memory (every method but the upper bound).
    case newClassesAndExemplars
    /// Every training image of every class seen so far (joint training, the upper bound).
    case allSeenClasses
}

/// Augmented training batches, one at a time, in an order fixed by the run's seed.
public protocol TrainingBatchSource: AnyObject {
    func next() throws -> TrainingBatch?
}

/// What a method may reach of the training split once its phase's epochs are over and the
/// harness has selected this phase's exemplars: class-balanced finetuning (LUCIR, PODNet)
/// and Mnemonics' exemplar optimisation work here. The test split is not reachable.
public protocol PhaseData: AnyObject {
    /// Kept exemplars (training-set indices) of every seen class, by learning position.
    var exemplars: [[Int]] { get }
    /// Every training-set index of the seen class at `position`.
    func trainingIndices(ofClass position: Int) throws -> [Int]
    /// Augmented training batches over `indices` (labels are learning positions), shuffled
    /// or not; randomness keyed by (seed, `purpose`, phase, `epoch`, sample).
    func batches(indices: [Int], batchSize: Int, purpose: String, epoch: Int, shuffle: Bool) throws -> any TrainingBatchSource
    /// The training images at `indices` with the test transform (normalised NHWC).
    func images(at indices: [Int]) throws -> Tensor
    /// The images of `replacement` as `images(at:)` would return them once the harness has
    /// stored them (de-normalised, rounded to uint8, normalised again), without storing
    /// anything: what a method that returns replacements may measure first.
    func storedImages(for replacement: ImageReplacement) throws -> Tensor
    /// The training images at `indices` in every view the harness's NME class means average
    /// (README.md, G1): the test transform and, depending on protocol and fidelity, its
    /// channel-reversed or mirrored copy. Row r of every tensor is the same image.
    func classMeanViews(at indices: [Int]) throws -> [Tensor]
}

extension PhaseData {
    /// One view: for stand-ins that have no second view.
    public func classMeanViews(at indices: [Int]) throws -> [Tensor] { [try images(at: indices)] }
}

/// Training images a method replaces after exemplar selection (Mnemonics' optimised
/// exemplars), as a value it returns and the harness applies: `images` are normalised NHWC,
/// as `PhaseData.images(at:)` returns them, one per index of `indices`.
public struct ImageReplacement {
    public let indices: [Int]
    public let images: Tensor
    /// How the de-normalised values become uint8 (G15 under `fidelity: reference`).
    public let rounding: PixelRounding

    public init(indices: [Int], images: Tensor, rounding: PixelRounding = .nearest) {
        self.indices = indices
        self.images = images
        self.rounding = rounding
    }

    /// The uint8 pixels of `normalised` NHWC values (channels last): (v·std + mean)·255 in
    /// float32, one rounding per operation as numpy does it ([MAN]
    /// `1_train/utils/process_mnemonics.py` `tensor2im`), then rounded by `rounding` and
    /// clamped to 0...255 (the code's `astype(uint8)` of a value outside it is undefined).
    public static func pixels(normalised values: [Float], mean: [Float], std: [Float], rounding: PixelRounding) -> [UInt8] {
        let channels = mean.count
        return values.indices.map { i in
            let c = i % channels
            let scaled = values[i] * std[c]
            let pixel = (scaled + mean[c]) * 255
            let rounded = rounding == .nearest ? pixel.rounded() : pixel.rounded(.towardZero)
            return UInt8(max(0, min(255, rounded)))
        }
    }
}

/// How stored images round: to the nearest level, or toward zero as the Mnemonics code's
/// `astype(uint8)` does (G15).
public enum PixelRounding: String, Sendable {
    case nearest
    case towardZero = "toward-zero"
}

/// The plug-in contract of a class-incremental method. The harness owns data, exemplar
/// selection, evaluation (CNN and NME), metrics and bundles; a method decides the head, what
/// happens when a phase begins and ends, and the loss of a batch. AANets is not a method but
/// a switch the harness applies to any method's backbone, so a method never needs to know.
public protocol IncrementalMethod: AnyObject {
    /// Registry name, as written after `--method`.
    static var name: String { get }
    /// One line for `--help` and READMEs.
    static var summary: String { get }
    /// Every setting key the method reads.
    static var settingKeys: [String] { get }

    init(settings: MethodSettings) throws

    /// Every hyper-parameter with its resolved value (defaults included), for the manifest.
    var resolvedSettings: [String: String] { get }
    var usesExemplars: Bool { get }
    var trainingData: TrainingData { get }

    /// The head over all classes of phase 0.
    func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead
    /// Called before phase k ≥ 1 trains: grow the head, snapshot the teacher, set weights.
    func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws
    /// The loss of one training batch.
    func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var
    /// Called after the phase's epochs, before exemplar selection and evaluation.
    func endPhase(_ context: PhaseContext, network: Network) throws
    /// Called after this phase's exemplars are selected, before evaluation. Returns the
    /// training images the method replaces (Mnemonics; others return none). The harness
    /// stores them as uint8, de-normalised and rounded as the Mnemonics code writes them
    /// back, and every later batch, class mean, checkpoint and digest uses them.
    @discardableResult
    func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement]
    /// Each gradient is clamped to [−c, c] before the optimiser step (PODNet: 5); nil: no clamp.
    var gradientClamp: Double? { get }
    /// The backbone the method trains when the protocol names `architecture` (PODNet
    /// swaps in its own ResNet variants: [POD] `inclearn/convnet/my_resnet.py`, `resnet.py`).
    func backbone(for architecture: ResNetArchitecture) -> ResNetArchitecture
    /// What phase 0 of this method computes (head, loss, settings that matter there). Runs
    /// whose methods give the same signature share a cached phase 0, as the reference
    /// code's `--resume_fg` lets LUCIR, iCaRL and their AANets versions do.
    var phaseZeroSignature: String { get }
    /// How the AANets reference code's trainer for this method treats α's gradient between
    /// α steps (G3); the harness applies it under `fidelity: reference`. Default:
    /// `.zeroedEachStep`.
    var referenceAlphaGradient: ReferenceAlphaGradient { get }
    /// Called once the harness has switched the backbone to AANets' dual branches (phase 1,
    /// after `beginPhase`), for what a method's AANets reference does at that moment
    /// (PODNet: G17). Default: nothing.
    func didBuildAggregation(_ context: PhaseContext, network: Network) throws
}

extension IncrementalMethod {
    public var usesExemplars: Bool { true }
    public var trainingData: TrainingData { .newClassesAndExemplars }
    public func endPhase(_ context: PhaseContext, network: Network) throws {}
    @discardableResult
    public func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement] { [] }
    public var gradientClamp: Double? { nil }
    public var referenceAlphaGradient: ReferenceAlphaGradient { .zeroedEachStep }
    public func didBuildAggregation(_ context: PhaseContext, network: Network) throws {}
    public func backbone(for architecture: ResNetArchitecture) -> ResNetArchitecture { architecture }
    /// By default a method shares phase 0 with nobody but itself at the same settings.
    public var phaseZeroSignature: String {
        Self.name + "|" + resolvedSettings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// Phase 0 of every method that trains a cosine head (learnable σ, LUCIR's init) with plain
/// cross-entropy: LUCIR, iCaRL (AANets-code variant) and the bounds with a cosine head.
public let cosineCrossEntropyPhaseZero = "cross-entropy+cosine-head(sigma)"
