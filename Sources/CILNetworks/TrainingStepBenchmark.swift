import Foundation

/// The training-step workloads `cilbench bench` and Benchmarks/ time, matching the PyTorch
/// anchor (shared/bench/torch_resnet.py): ResNet-32, 100 classes, linear head, random
/// data, SGD (lr 0.01, momentum 0.9, weight decay 5e-4), batch 128.
public enum TrainingStepCase: String, CaseIterable, Sendable {
    /// ResNet-32 forward, cross-entropy, backward, SGD.
    case plainTrain = "plain-train"
    /// plain-train plus a frozen old ResNet-32 forward and LUCIR's feature distillation
    /// (5 · (1 − mean cosine(new, old features))).
    case lucirTrain = "lucir-train"
    /// AANets dual-branch ResNet-32 step (α gets a gradient but is not stepped, as in the anchor).
    case aanetsTrain = "aanets-train"
    /// aanets-train plus the frozen old dual-branch forward of phases ≥ 2.
    case aanetsTrainOld = "aanets-train-old"
    /// ResNet-32 evaluation forward without gradient recording.
    case inference = "inference"
    /// The dual-branch evaluation forward alone: what aanets-train-old spends on its teacher.
    case aanetsInference = "aanets-inference"
}

/// One prepared workload: networks, data and optimiser, ready to run steps.
public final class TrainingStepWorkload {
    public let kind: TrainingStepCase
    public let batch: Int
    let engine: ComputeEngine
    let network: Network
    let teacher: Network?
    var optimizer: SGD
    let images: Tensor
    let labels: [Int32]

    public init(_ kind: TrainingStepCase, engine: ComputeEngine, batch: Int = 128, classes: Int = 100, seed: UInt64 = 0) {
        self.kind = kind
        self.batch = batch
        self.engine = engine
        let plain = ResNet(.resnet32, seed: seed)
        let head = LinearHead(featureDimension: 64, classes: classes, seed: seed)
        let backbone: any Backbone
        var teacherBackbone: (any Backbone)?
        switch kind {
        case .plainTrain, .lucirTrain, .inference:
            backbone = plain
            if kind == .lucirTrain { teacherBackbone = plain.clone(.prefixed("teacher.")) }
        case .aanetsTrain, .aanetsTrainOld, .aanetsInference:
            let dual = AANetsBackbone(phaseZero: plain)
            backbone = dual
            if kind == .aanetsTrainOld { teacherBackbone = dual.clone(.prefixed("teacher.")) }
        }
        network = Network(backbone: backbone, head: head)
        teacher = teacherBackbone.map { Network(backbone: $0, head: head) }
        optimizer = SGD(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4, groups: ["alpha": ParameterGroupSettings(learningRateScale: 0)])
        var stream = RandomStream(seed: seed, purpose: "bench.data")
        images = Tensor(shape: [batch, 32, 32, 3], scalars: (0..<(batch * 32 * 32 * 3)).map { _ in Float(stream.nextNormal()) }, layout: .nhwc)
        labels = (0..<batch).map { _ in Int32(stream.nextInt(below: classes)) }
    }

    /// Runs one step and returns its loss (or, for inference, the logits' sum).
    @discardableResult
    public func step() throws -> Double {
        if kind == .inference || kind == .aanetsInference {
            let g = Graph(engine: engine, recordsGradients: false)
            let out = try network.forward(g, images: g.constant(images), mode: .evaluation)
            return engine.sumAll(g[out.logits]).scalarValue
        }
        var teacherFeatures: Tensor?
        if let teacher {
            let tg = Graph(engine: engine, recordsGradients: false)
            teacherFeatures = try tg[teacher.backbone.features(tg, tg.constant(images), mode: .evaluation).pooled]
        }
        let g = Graph(engine: engine)
        let out = try network.forward(g, images: g.constant(images), mode: .training)
        var loss = g.crossEntropy(out.logits, labels: labels)
        if let teacherFeatures {
            let cosine = g.sum(g.multiply(g.l2NormalizeRows(out.features.pooled), g.l2NormalizeRows(g.constant(teacherFeatures))), axis: 1)
            let lessForget = g.scale(g.subtract(g.constant(Tensor(filled: 1, shape: [])), g.mean(cosine)), by: 5)
            loss = g.add(loss, lessForget)
        }
        try g.backward(from: loss)
        optimizer.step(network.parameters)
        return g[loss].scalarValue
    }

    /// Median milliseconds per step over `iterations` after `warmup` steps.
    public func measure(iterations: Int, warmup: Int = 2) throws -> (medianMilliseconds: Double, imagesPerSecond: Double) {
        for _ in 0..<warmup { try step() }
        var times: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            try step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let median = times.sorted()[times.count / 2]
        return (median, Double(batch) / median * 1000)
    }

    /// Median milliseconds per step of two workloads timed in alternation (a, b, a, b, ...),
    /// so that a machine whose speed drifts (a shared VM) slows both alike.
    public static func measureInterleaved(_ a: TrainingStepWorkload, _ b: TrainingStepWorkload, iterations: Int, warmup: Int = 2)
        throws -> (a: Double, b: Double)
    {
        for _ in 0..<warmup { try a.step(); try b.step() }
        var ta: [Double] = [], tb: [Double] = []
        for _ in 0..<iterations {
            for (workload, isA) in [(a, true), (b, false)] {
                let start = DispatchTime.now().uptimeNanoseconds
                try workload.step()
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if isA { ta.append(ms) } else { tb.append(ms) }
            }
        }
        return (ta.sorted()[ta.count / 2], tb.sorted()[tb.count / 2])
    }
}
