import CILData
import CILMethods

/// Everything a run depends on, resolved: data, class order, phases, memory, network,
/// optimisation and the AANets switch. Protocol files resolve into this; the runner reads
/// nothing else.
public struct RunConfiguration {
    public var train: any ImageSource
    public var test: any ImageSource
    /// Channels of the images the network sees (3 for RGB; Fashion-MNIST is padded to 3).
    public var inputChannels: Int
    public var classOrder: ClassOrder
    public var schedule: PhaseSchedule
    public var memory: MemoryPolicy
    public var backbone: ResNetArchitecture
    public var trainPreprocessing: Preprocessing
    public var testPreprocessing: Preprocessing
    public var optimization: Optimization
    /// Phase 0 may train differently (the reference code uses more epochs or another lr).
    public var baseOptimization: Optimization
    public var aanets: AANetsSettings?
    public var seed: UInt64
    public var threads: Int
    public var evaluationBatchSize: Int
    /// Whether the run copies the reference code's quirks (G1 class-mean views, G3 α
    /// gradient accumulation, G13 balanced set with replacement) or corrects them
    /// (README.md, "Sources cited": G1-G14).
    public var fidelity: Fidelity
    /// The views NME class means average (G1); `RunPlan` derives it from the protocol's
    /// preprocessing and the fidelity.
    public var classMeanViews: ClassMeanViews

    public init(train: any ImageSource, test: any ImageSource, inputChannels: Int = 3, classOrder: ClassOrder, schedule: PhaseSchedule, memory: MemoryPolicy,
                backbone: ResNetArchitecture, trainPreprocessing: Preprocessing, testPreprocessing: Preprocessing,
                optimization: Optimization, baseOptimization: Optimization? = nil, aanets: AANetsSettings? = nil,
                seed: UInt64, threads: Int = 2, evaluationBatchSize: Int = 256,
                fidelity: Fidelity = .reference, classMeanViews: ClassMeanViews = .original) {
        self.train = train
        self.test = test
        self.inputChannels = inputChannels
        self.classOrder = classOrder
        self.schedule = schedule
        self.memory = memory
        self.backbone = backbone
        self.trainPreprocessing = trainPreprocessing
        self.testPreprocessing = testPreprocessing
        self.optimization = optimization
        self.baseOptimization = baseOptimization ?? optimization
        self.aanets = aanets
        self.seed = seed
        self.threads = threads
        self.evaluationBatchSize = evaluationBatchSize
        self.fidelity = fidelity
        self.classMeanViews = classMeanViews
    }
}

/// SGD settings and the epoch schedule of one phase.
public struct Optimization: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double
    public var schedule: LearningRateSchedule
    /// Gotcha G4: the reference code steps its scheduler before each epoch.
    public var steppedAtEpochStart: Bool
    /// Gotcha G16: PODNet steps its scheduler after each epoch with that epoch's index.
    public var lagsOneEpoch: Bool

    public init(epochs: Int, batchSize: Int, learningRate: Double, momentum: Double = 0.9, weightDecay: Double = 5e-4,
                schedule: LearningRateSchedule = .constant, steppedAtEpochStart: Bool = false, lagsOneEpoch: Bool = false) {
        self.lagsOneEpoch = lagsOneEpoch
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.schedule = schedule
        self.steppedAtEpochStart = steppedAtEpochStart
    }
}

/// The AANets switch: dual-branch levels from phase 1 on and, after
/// every epoch, a pass that updates only the aggregation weights α on a balanced set.
public struct AANetsSettings: Sendable, Equatable {
    public var initialAlpha: Double
    public var alphaLearningRate: Double
    public var alphaMomentum: Double
    public var alphaWeightDecay: Double
    /// Milestones of the α schedule (the network's, in the reference code).
    public var alphaSchedule: LearningRateSchedule
    /// New-class images in the balanced set per new class (the reference draws
    /// nb_cl × nb_protos with replacement from all new-class images, gotcha G13;
    /// `BalancedSet` draws them per `RunConfiguration.fidelity`).
    public var balancedPerClass: Int
    public var balancedBatchSize: Int

    public init(initialAlpha: Double = 0.5, alphaLearningRate: Double = 1e-8, alphaMomentum: Double = 0.9,
                alphaWeightDecay: Double = 5e-4, alphaSchedule: LearningRateSchedule = .constant,
                balancedPerClass: Int = 20, balancedBatchSize: Int = 100) {
        self.initialAlpha = initialAlpha
        self.alphaLearningRate = alphaLearningRate
        self.alphaMomentum = alphaMomentum
        self.alphaWeightDecay = alphaWeightDecay
        self.alphaSchedule = alphaSchedule
        self.balancedPerClass = balancedPerClass
        self.balancedBatchSize = balancedBatchSize
    }
}
