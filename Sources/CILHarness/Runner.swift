import CILData
import CILMethods
import Foundation

/// What the runner reports while it works (progress bars, logs).
public enum RunEvent {
    case phaseStarted(phase: Int, phases: Int, trainingImages: Int)
    case epochFinished(phase: Int, EpochRecord, epochs: Int)
    case phaseFinished(PhaseOutcome)
}

/// Points in a run where a watcher (replay) may look at what was computed so far and stop
/// the run by throwing: after every optimiser step, when a stage of a phase begins, when an
/// epoch's chain link is made, and when a phase is finished (before `onEvent` hears of it).
public enum RunMark {
    case step(KernelContext)
    case stage(KernelContext)
    case chainLink(ChainLink)
    case phaseFinished(PhaseOutcome)
}

/// The phase loop: for each phase, let the method prepare, train
/// on new-class data and exemplars (plus AANets' α pass when switched on), select exemplars
/// by herding, and evaluate CNN and NME on the test images of every seen class. The method
/// never receives a test image: evaluation happens here, after its phase is over.
public final class Runner {
    public let configuration: RunConfiguration
    public let method: any IncrementalMethod
    public let engine: ComputeEngine
    public var onEvent: ((RunEvent) -> Void)?
    /// Called at every `RunMark`; a thrown error ends the run (replay stops at a divergence).
    public var onMark: ((RunMark) throws -> Void)?
    /// Time spent on the digest chain and on the phases, for the overhead figure.
    public private(set) var chainNanoseconds: UInt64 = 0
    public private(set) var trainingNanoseconds: UInt64 = 0
    /// Time spent in training steps (forward, backward, optimiser, chain), for the chain's
    /// per-step overhead.
    public private(set) var stepNanoseconds: UInt64 = 0

    public private(set) var network: Network?
    public private(set) var memory: ExemplarMemory
    public private(set) var records: [PhaseOutcome] = []
    /// α's gradient as the α optimiser sees it (G3); carried across phases and checkpoints.
    public private(set) var alphaGradient: AlphaGradient

    let trainByPosition: [[Int]]
    let testByPosition: [[Int]]
    private(set) var trainAssembler: BatchAssembler
    private(set) var trainEvaluationAssembler: BatchAssembler
    /// Training images a method replaced (Mnemonics' optimised exemplars), by index.
    public private(set) var imageOverrides: [Int: [UInt8]] = [:]
    let testAssembler: BatchAssembler

    public init(configuration: RunConfiguration, method: any IncrementalMethod, engine: ComputeEngine) throws {
        self.configuration = configuration
        self.method = method
        self.engine = engine
        memory = ExemplarMemory(policy: configuration.memory)
        alphaGradient = AlphaGradient(accumulates: Self.accumulatesAlphaGradient(method: method, fidelity: configuration.fidelity))
        let order = configuration.classOrder
        let trainGroups = SampleSelection.byClass(labels: configuration.train.labels, classCount: order.count)
        let testGroups = SampleSelection.byClass(labels: configuration.test.labels, classCount: order.count)
        trainByPosition = order.labels.map { trainGroups[$0] }
        testByPosition = order.labels.map { testGroups[$0] }
        let map = order.labelToPosition
        trainAssembler = BatchAssembler(source: configuration.train, preprocessing: configuration.trainPreprocessing, seed: configuration.seed, labelMap: map)
        trainEvaluationAssembler = BatchAssembler(source: configuration.train, preprocessing: configuration.testPreprocessing, seed: configuration.seed, labelMap: map)
        testAssembler = BatchAssembler(source: configuration.test, preprocessing: configuration.testPreprocessing, seed: configuration.seed, labelMap: map)
    }

    /// G3 applies under `reference` to methods that declare their AANets reference trainer
    /// accumulates α's gradient.
    static func accumulatesAlphaGradient(method: any IncrementalMethod, fidelity: Fidelity) -> Bool {
        fidelity == .reference && method.referenceAlphaGradient == .accumulated
    }

    func adopt(network: Network, memory: ExemplarMemory, records: [PhaseOutcome], imageOverrides: [Int: [UInt8]] = [:], alphaGradientSum: [Double]? = nil) {
        self.network = network
        self.memory = memory
        self.records = records
        alphaGradient = AlphaGradient(accumulates: alphaGradient.accumulates, sum: alphaGradientSum)
        setImageOverrides(imageOverrides)
    }

    /// The backbone architecture this run trains: the protocol's, or the method's variant of it.
    var architecture: ResNetArchitecture { method.backbone(for: configuration.backbone) }

    func setImageOverrides(_ overrides: [Int: [UInt8]]) {
        imageOverrides = overrides
        let source: any ImageSource = overrides.isEmpty ? configuration.train : OverlaidImageSource(base: configuration.train, overrides: overrides)
        let map = configuration.classOrder.labelToPosition
        trainAssembler = BatchAssembler(source: source, preprocessing: configuration.trainPreprocessing, seed: configuration.seed, labelMap: map)
        trainEvaluationAssembler = BatchAssembler(source: source, preprocessing: configuration.testPreprocessing, seed: configuration.seed, labelMap: map)
    }

    func phaseOf(position: Int) -> Int {
        let s = configuration.schedule
        return position < s.initialClasses ? 0 : 1 + (position - s.initialClasses) / s.increment
    }

    /// Runs phases `records.count ..< phaseCount` and returns every phase's record.
    @discardableResult
    public func run() throws -> [PhaseOutcome] {
        let phases = configuration.schedule.phaseCount
        while records.count < phases { try runPhase(records.count) }
        return records
    }

    /// Runs the next unfinished phase and returns its record.
    public func runNextPhase() throws -> PhaseOutcome {
        precondition(records.count < configuration.schedule.phaseCount, "every phase has run")
        try runPhase(records.count)
        return records[records.count - 1]
    }

    func runPhase(_ k: Int) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let schedule = configuration.schedule
        let newPositions = schedule.newPositions(phase: k)
        let optimization = k == 0 ? configuration.baseOptimization : configuration.optimization
        let seen = newPositions.upperBound
        let context = PhaseContext(phase: k, phaseCount: schedule.phaseCount, oldClasses: newPositions.lowerBound,
                                   newClasses: newPositions.count, epochs: optimization.epochs,
                                   exemplarsPerClass: configuration.memory.exemplarsPerClass(seenClasses: seen),
                                   seed: configuration.seed, engine: engine)
        let extractor = FeatureExtractor(engine: engine, assembler: trainEvaluationAssembler, batchSize: configuration.evaluationBatchSize)
        var chain = DigestChain(phase: k)
        try enter(.beginPhase, phase: k)

        // The network: built in phase 0, prepared by the method afterwards, and switched to
        // AANets' dual branches when phase 1 begins (after the method's teacher snapshot, so
        // the phase-1 teacher is the plain phase-0 network as in the reference code).
        let network: Network
        if let existing = self.network {
            network = existing
            let source = ClassFeatureSource(extractor: extractor, network: network) { [trainByPosition] in trainByPosition[$0] }
            try method.beginPhase(context, network: network, newClassFeatures: source)
            if k == 1, let aanets = configuration.aanets {
                guard let plain = network.backbone as? ResNet else { throw MethodError.unsupported("AANets needs a plain ResNet after phase 0") }
                network.backbone = AANetsBackbone(phaseZero: plain, initialAlpha: aanets.initialAlpha)
                try method.didBuildAggregation(context, network: network)
            }
        } else {
            let backbone = ResNet(architecture, inputChannels: configuration.inputChannels, seed: configuration.seed)
            network = Network(backbone: backbone, head: method.makeHead(featureDimension: backbone.featureDimension, classes: newPositions.count, seed: configuration.seed))
            self.network = network
        }

        let trainIndices: [Int]
        switch method.trainingData {
        case .allSeenClasses:
            trainIndices = (0..<seen).flatMap { trainByPosition[$0] }
        case .newClassesAndExemplars:
            trainIndices = newPositions.flatMap { trainByPosition[$0] } + (method.usesExemplars ? memory.allExemplars(seenClasses: newPositions.lowerBound) : [])
        }
        onEvent?(.phaseStarted(phase: k, phases: schedule.phaseCount, trainingImages: trainIndices.count))

        var epochs: [EpochRecord] = []
        var sgd = SGD(learningRate: optimization.learningRate, momentum: optimization.momentum, weightDecay: optimization.weightDecay,
                      groups: ["alpha": ParameterGroupSettings(learningRateScale: 0)])
        let aanets = k >= 1 ? configuration.aanets : nil
        var alphaSGD = aanets.map { SGD(learningRate: $0.alphaLearningRate, momentum: $0.alphaMomentum, weightDecay: $0.alphaWeightDecay) }
        let balanced = aanets.map { balancedSet(phase: k, newPositions: newPositions, settings: $0) } ?? []
        for epoch in 0..<optimization.epochs {
            let epochStart = DispatchTime.now().uptimeNanoseconds
            let lr = optimization.schedule.learningRate(base: optimization.learningRate, epoch: epoch, steppedAtEpochStart: optimization.steppedAtEpochStart,
                                                        lagsOneEpoch: optimization.lagsOneEpoch)
            sgd.learningRate = lr
            let loader = try BatchLoader(assembler: trainAssembler, indices: trainIndices, batchSize: optimization.batchSize, phase: k, epoch: epoch)
            var lossSum = 0.0, seenImages = 0
            var step = 0
            try enter(.training, phase: k, epoch: epoch, step: 0)
            while let batch = try loader.next() {
                let stepStart = DispatchTime.now().uptimeNanoseconds
                engine.context = KernelContext(phase: k, epoch: epoch, step: step, stage: .training)
                let labels = batch.labels.map { Int32($0) }
                let g = Graph(engine: engine)
                let loss = try method.loss(g, network: network, batch: TrainingBatch(images: batch.images, labels: labels), context: context)
                try g.backward(from: loss)
                if let limit = method.gradientClamp { clampGradients(network.parameters, limit: limit) }
                if aanets != nil, let dual = network.backbone as? AANetsBackbone { alphaGradient.absorbTrainingGradient(dual.alphas) }
                sgd.step(network.parameters)
                lossSum += g[loss].scalarValue * Double(labels.count)
                seenImages += labels.count
                chain.step(network.parameters)
                stepNanoseconds += DispatchTime.now().uptimeNanoseconds - stepStart
                try onMark?(.step(engine.context))
                step += 1
            }
            // Made before the call: optional chaining would skip it without a watcher.
            let link = chain.link(epoch: epoch, stage: .training)
            try onMark?(.chainLink(link))
            var alphas: [Double]?
            if let aanets, var alphaOptimizer = alphaSGD, let dual = network.backbone as? AANetsBackbone {
                alphaOptimizer.learningRate = aanets.alphaSchedule.learningRate(base: aanets.alphaLearningRate, epoch: epoch, steppedAtEpochStart: optimization.steppedAtEpochStart)
                try alphaPass(network: network, dual: dual, indices: balanced, phase: k, epoch: epoch, batchSize: aanets.balancedBatchSize,
                              optimizer: &alphaOptimizer, chain: &chain)
                let link = chain.link(epoch: epoch, stage: .alpha)
                try onMark?(.chainLink(link))
                alphaSGD = alphaOptimizer
                alphas = dual.alphas.map { $0.value.scalarValue }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
            let record = EpochRecord(phase: k, epoch: epoch, losses: ["loss": lossSum / Double(max(seenImages, 1))], trainAccuracy: nil,
                                     learningRate: lr, imagesPerSecond: Double(seenImages) / max(seconds, 1e-9), seconds: seconds, alphas: alphas)
            epochs.append(record)
            onEvent?(.epochFinished(phase: k, record, epochs: optimization.epochs))
        }
        try enter(.endPhase, phase: k)
        try method.endPhase(context, network: network)

        try enter(.exemplarSelection, phase: k)
        if method.usesExemplars {
            for position in newPositions {
                let features = try extractor.run(network, indices: trainByPosition[position]).features
                memory.append(rankedIndices: Herding.rank(features, count: context.exemplarsPerClass).map { trainByPosition[position][$0] })
            }
        }
        try enter(.afterSelection, phase: k)
        let phaseData = RunnerPhaseData(phase: k, seen: seen, exemplars: memory.exemplars(seenClasses: seen), trainByPosition: trainByPosition,
                                        configuration: configuration, trainAssembler: trainAssembler,
                                        trainEvaluationAssembler: trainEvaluationAssembler)
        let replacements = try method.afterExemplarSelection(context, network: network, data: phaseData)
        if !replacements.isEmpty {
            var overrides = imageOverrides
            for replacement in replacements { overrides.merge(try phaseData.storedPixels(for: replacement)) { _, new in new } }
            setImageOverrides(overrides)
        }
        // Replaced images (Mnemonics) change class means: the extractor must see the new ones.
        let evaluationExtractor = FeatureExtractor(engine: engine, assembler: trainEvaluationAssembler, batchSize: configuration.evaluationBatchSize)
        try enter(.evaluation, phase: k)
        var record = try evaluate(network: network, phase: k, seen: seen, extractor: evaluationExtractor)
        record.epochs = epochs
        record.chain = chain.links
        chainNanoseconds += chain.nanoseconds
        trainingNanoseconds += DispatchTime.now().uptimeNanoseconds - started
        try onMark?(.phaseFinished(record))
        record.record.wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        records.append(record)
        onEvent?(.phaseFinished(record))
    }

    /// The balanced set of AANets' α pass: every old-class exemplar plus new-class images,
    /// drawn with (reference, G13) or without (corrected) replacement; once per phase.
    func balancedSet(phase: Int, newPositions: Range<Int>, settings: AANetsSettings) -> [Int] {
        BalancedSet.draw(newClassPools: newPositions.map { trainByPosition[$0] }, exemplars: memory.allExemplars(seenClasses: newPositions.lowerBound),
                         perClass: settings.balancedPerClass, fidelity: configuration.fidelity, seed: configuration.seed, phase: phase)
    }

    /// One pass over the balanced set in evaluation mode, fixed order, plain cross-entropy,
    /// updating only α (G5). Every other parameter is frozen for the pass, so backward
    /// computes only what α's gradient needs. Each step uses the gradient `alphaGradient`
    /// prepares: accumulated (G3, reference LUCIR) or the batch's own.
    func alphaPass(network: Network, dual: AANetsBackbone, indices: [Int], phase: Int, epoch: Int, batchSize: Int, optimizer: inout SGD,
                   chain: inout DigestChain) throws {
        let parameters = network.parameters
        let trainable = parameters.map(\.isTrainable)
        for p in parameters { p.isTrainable = dual.alphas.contains { $0 === p } }
        defer { for (p, t) in zip(parameters, trainable) { p.isTrainable = t } }
        let loader = try BatchLoader(assembler: trainAssembler, indices: indices, batchSize: batchSize, phase: phase, epoch: epoch, shuffle: false)
        var step = 0
        try enter(.alphaPass, phase: phase, epoch: epoch, step: 0)
        while let batch = try loader.next() {
            engine.context = KernelContext(phase: phase, epoch: epoch, step: step, stage: .alphaPass)
            let g = Graph(engine: engine)
            let out = try network.forward(g, images: g.constant(batch.images), mode: .evaluation)
            try g.backward(from: g.crossEntropy(out.logits, labels: batch.labels.map { Int32($0) }))
            alphaGradient.step(dual.alphas, optimizer: &optimizer)
            chain.step(parameters)
            try onMark?(.step(engine.context))
            step += 1
        }
    }

    func evaluate(network: Network, phase k: Int, seen: Int, extractor: FeatureExtractor) throws -> PhaseOutcome {
        let testIndices = (0..<seen).flatMap { testByPosition[$0] }
        let labels = (0..<seen).flatMap { p in Array(repeating: p, count: testByPosition[p].count) }
        let testExtractor = FeatureExtractor(engine: engine, assembler: testAssembler, batchSize: configuration.evaluationBatchSize)
        let (features, logits) = try testExtractor.run(network, indices: testIndices)
        let cnnPredictions = Evaluation.argmax(logits)
        let cnn = Evaluation.count(predictions: cnnPredictions, labels: labels, phaseOfPosition: phaseOf, phases: k + 1)
        var nme: (correct: [Int], total: [Int])?
        var nmePredictions: [Int] = []
        if method.usesExemplars {
            let groups = memory.exemplars(seenClasses: seen)
            let indices = groups.flatMap { $0 }
            var views = [try extractor.run(network, indices: indices).features]
            // G1: the second view of every exemplar (channel-reversed or mirrored), through the
            // same test transform; only the class means see it, herding does not
            // ([AAN] `trainer/base_trainer.py` l.845-905 herds on the original view).
            if let view = configuration.classMeanViews.secondView {
                views.append(try FeatureExtractor(engine: engine, assembler: extractor.assembler.viewing(view), batchSize: extractor.batchSize).run(network, indices: indices).features)
            }
            var offset = 0
            let rows = groups.map { g -> [Int] in defer { offset += g.count }; return Array(offset..<(offset + g.count)) }
            let means = ClassMeanViews.means(views, groups: rows)
            nmePredictions = Evaluation.nearestMean(features, means: means, engine: engine)
            nme = Evaluation.count(predictions: nmePredictions, labels: labels, phaseOfPosition: phaseOf, phases: k + 1)
        }
        let predictionDigest = (cnnPredictions + nmePredictions).reduce(Digest.fnv1a("predictions")) { Digest.combine($0, UInt64($1)) }
        let record = PhaseRecord(phase: k, classesSeen: seen, wallSeconds: 0, parameterDigest: parameterDigest(network.parameters),
                                 exemplarDigest: exemplarDigest(seen: seen), predictionDigest: predictionDigest)
        return PhaseOutcome(record: record, cnnCorrect: cnn.correct, nmeCorrect: nme?.correct, testImages: cnn.total, epochs: [])
    }
}

extension Runner {
    /// Sets the engine's context for the kernels of a new stage and lets the watcher look
    /// at everything before it.
    func enter(_ stage: KernelStage, phase: Int, epoch: Int = -1, step: Int = -1) throws {
        engine.context = KernelContext(phase: phase, epoch: epoch, step: step, stage: stage)
        try onMark?(.stage(engine.context))
    }

    /// The kept exemplars' indices and, when a method replaced images, their pixels too.
    func exemplarDigest(seen: Int) -> UInt64 {
        let indices = memory.digest(seenClasses: seen)
        guard !imageOverrides.isEmpty else { return indices }
        return imageOverrides.keys.sorted().reduce(Digest.combine(indices, Digest.fnv1a("replaced-images"))) { h, index in
            imageOverrides[index]!.withUnsafeBytes { Digest.combine(Digest.combine(h, UInt64(index)), Digest.bytes($0.baseAddress!, count: $0.count)) }
        }
    }

    /// Clamps every gradient to [−limit, limit] (PODNet's `clamp_(-5, 5)`).
    func clampGradients(_ parameters: [Parameter], limit: Double) {
        for p in parameters {
            guard let gradient = p.gradient else { continue }
            p.gradient = engine.unary(.clamp(min: -limit, max: limit), gradient)
        }
    }
}
