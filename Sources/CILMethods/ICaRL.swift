/// iCaRL as the AANets code runs it ([AAN] `trainer/incremental_icarl.py` l.76-86):
/// the LUCIR code path's cosine head (learnable σ, imprinted new vectors, frozen old ones),
/// herding exemplars, and
///   L = CE(z, y) + β·T²·(1/B) Σ_b KL(softmax(z*_b/T) ‖ softmax(z_{b,C_o}/T)),  T = 2, β = 0.25,
/// over σ-scaled cosine logits z and the teacher's logits z* on the old classes. PyTorch's
/// element-mean KL times |C_o| is the per-sample mean used here (G11). Phase 0 is plain CE.
///
/// iCaRL classifies by nearest mean of exemplars; the harness computes both classifiers and
/// `classifier` records which one this method reports (default nme; the sources leave it
/// open: neither the AANets paper nor [AAN] says which one its iCaRL rows use).
public final class ICaRL: IncrementalMethod {
    public static let name = "icarl"
    public static let summary = "iCaRL, AANets-code variant: cosine head, imprinting, CE + β·T²·KD (T=2, β=0.25), NME"
    public static let settingKeys = ["temperature", "beta", "classifier"]

    public let temperature: Double
    public let beta: Double
    public let classifier: String
    var teacher: Teacher?

    public init(settings: MethodSettings) throws {
        temperature = try settings.double("temperature", default: 2)
        beta = try settings.double("beta", default: 0.25)
        classifier = try settings.string("classifier", default: "nme", allowed: ["nme", "cnn"])
        guard temperature > 0 else { throw MethodError.badSetting(key: "temperature", value: "\(temperature)", expected: "positive") }
    }

    /// Phase 0 is cross-entropy on a cosine head, shared with the other such methods.
    public var phaseZeroSignature: String { cosineCrossEntropyPhaseZero }

    public var resolvedSettings: [String: String] {
        ["temperature": "\(temperature)", "beta": "\(beta)", "classifier": classifier, "head": "cosine"]
    }

    public func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        CosineLinearHead(featureDimension: featureDimension, classes: classes, seed: seed)
    }

    public func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        teacher = Teacher(snapshotOf: network)
        try CosineHeadGrowth.grow(network, context: context, features: newClassFeatures)
    }

    public func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        let logits = try network.forward(g, images: g.constant(batch.images), mode: .training).logits
        let ce = g.crossEntropy(logits, labels: batch.labels)
        guard context.phase > 0, let teacher else { return ce }
        let old = try teacher.outputs(batch.images, engine: g.engine).logits
        return g.add(ce, Self.distillation(g, logits: logits, teacherLogits: old, temperature: temperature, beta: beta))
    }

    /// β·T²·KL(softmax(z*/T) ‖ softmax(z_{C_o}/T)), averaged over the batch
    /// ([AAN] `trainer/incremental_icarl.py` l.76-86; G11).
    public static func distillation(_ g: Graph, logits: Var, teacherLogits: Tensor, temperature: Double, beta: Double) -> Var {
        let student = g.columns(logits, 0..<teacherLogits.shape[1])
        let kl = g.distillationKL(student: student, teacher: g.constant(teacherLogits), temperature: temperature)
        return g.scale(kl, by: beta * temperature * temperature)
    }
}
