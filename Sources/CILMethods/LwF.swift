import Foundation

/// Learning without Forgetting (Li & Hoiem, ECCV 2016) as class-incremental tables use it. No
/// exemplars; the teacher is the previous phase's network, frozen when the phase begins.
///
/// `loss = bce` (default): "LwF.MC" of the iCaRL paper, the variant behind the LwF rows of
/// AANets' Table 1 (which appear to be quoted from the Mnemonics and LUCIR papers; [AAN] has
/// no LwF code): iCaRL's sigmoid binary cross-entropy (iCaRL paper, Rebuffi et al., CVPR
/// 2017) with one-hot targets for new classes and the teacher's sigmoid outputs for old
/// classes, averaged over all B·C entries (iCaRL's code reduces with a plain mean; the
/// paper's sum leaves the reduction open).
///
/// `loss = kd`: the [PyCIL] form (`models/lwf.py` l.156-166, l.202-205),
/// L = CE(z_{C_n}, y − |C_o|) + w·KD_T(z_{C_o}, z*),
/// KD_T(p, q) = −(1/B) Σ_b Σ_c softmax(q/T)_c log softmax(p/T)_c, T = 2, w = 3 (the
/// original Li & Hoiem form is the same with w = 1).
public final class LwF: IncrementalMethod {
    public static let name = "lwf"
    public static let summary = "LwF.MC: iCaRL's sigmoid loss without exemplars (or the KD form, loss=kd)"
    public static let settingKeys = ["loss", "head", "temperature", "kd_weight"]

    public enum Loss: String, Sendable { case bce, kd }

    public let lossKind: Loss
    let head: HeadKind
    public let temperature: Double
    public let kdWeight: Double
    var teacher: Teacher?

    public init(settings: MethodSettings) throws {
        lossKind = Loss(rawValue: try settings.string("loss", default: "bce", allowed: ["bce", "kd"])) ?? .bce
        // LwF.MC uses a plain linear layer: sigmoid outputs of σ·cos with σ≈1 stay near 0.5.
        head = HeadKind(rawValue: try settings.string("head", default: "linear", allowed: ["linear", "cosine"])) ?? .linear
        temperature = try settings.double("temperature", default: 2)
        kdWeight = try settings.double("kd_weight", default: 3)
        guard temperature > 0 else { throw MethodError.badSetting(key: "temperature", value: "\(temperature)", expected: "positive") }
    }

    public var resolvedSettings: [String: String] {
        ["loss": lossKind.rawValue, "head": head.rawValue, "temperature": "\(temperature)", "kd_weight": "\(kdWeight)", "classifier": "cnn"]
    }
    public var usesExemplars: Bool { false }

    public func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        head.make(featureDimension: featureDimension, classes: classes, seed: seed)
    }

    public func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        teacher = Teacher(snapshotOf: network)   // before growth: the teacher's head covers C_o only
        try growHead(network, by: context.newClasses, seed: context.seed &+ UInt64(context.phase))
    }

    public func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        let logits = try network.forward(g, images: g.constant(batch.images), mode: .training).logits
        let old = context.phase == 0 ? nil : try teacher?.outputs(batch.images, engine: g.engine).logits
        switch lossKind {
        case .bce: return try Self.binaryCrossEntropy(g, logits: logits, labels: batch.labels, teacherLogits: old)
        case .kd:
            guard let old else { return g.crossEntropy(logits, labels: batch.labels) }
            return try Self.knowledgeDistillation(g, logits: logits, labels: batch.labels, teacherLogits: old, temperature: temperature, weight: kdWeight)
        }
    }

    /// iCaRL's loss (iCaRL paper): mean over entries of BCE(z, t), t = one-hot(y) on the classes the
    /// teacher does not know and sigmoid(z*) on those it does.
    public static func binaryCrossEntropy(_ g: Graph, logits: Var, labels: [Int32], teacherLogits: Tensor?) throws -> Var {
        let shape = g[logits].shape, rows = shape[0], classes = shape[1]
        let oldClasses = teacherLogits?.shape[1] ?? 0
        let teacher = teacherLogits?.doubles ?? []
        var targets = [Double](repeating: 0, count: rows * classes)
        for r in 0..<rows {
            let y = Int(labels[r])
            guard y >= 0 && y < classes else { throw MethodError.unsupported("label \(y) outside the \(classes) seen classes") }
            for c in 0..<classes {
                if c < oldClasses {
                    let z = teacher[r * oldClasses + c]
                    targets[r * classes + c] = 1 / (1 + Foundation.exp(-z))
                } else {
                    targets[r * classes + c] = c == y ? 1 : 0
                }
            }
        }
        let t = Tensor(shape: shape, scalars: targets)
        return g.mean(g.binaryCrossEntropyWithLogits(logits, targets: g.constant(g[logits].dtype == .float64 ? t : t.converted(to: .float32))))
    }

    /// The [PyCIL] form (`models/lwf.py` l.156-166, l.202-205): CE over the new-class logits
    /// plus `weight` times the soft cross-entropy of the old-class logits against the
    /// teacher's, both at temperature T.
    public static func knowledgeDistillation(_ g: Graph, logits: Var, labels: [Int32], teacherLogits: Tensor, temperature: Double, weight: Double) throws -> Var {
        let classes = g[logits].shape[1], oldClasses = teacherLogits.shape[1]
        guard labels.allSatisfy({ Int($0) >= oldClasses && Int($0) < classes }) else {
            throw MethodError.unsupported("LwF's KD form trains on new-class samples only (no exemplars)")
        }
        let newLogits = g.columns(logits, oldClasses..<classes)
        let ce = g.crossEntropy(newLogits, labels: labels.map { $0 - Int32(oldClasses) })
        let student = g.logSoftmax(g.scale(g.columns(logits, 0..<oldClasses), by: 1 / temperature))
        let target = g.softmax(g.scale(g.constant(teacherLogits), by: 1 / temperature))
        let softCE = g.scale(g.sum(g.multiply(target, student)), by: -1 / Double(max(labels.count, 1)))
        return g.add(ce, g.scale(softCE, by: weight))
    }
}
