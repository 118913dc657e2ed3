/// LUCIR (Hou et al., CVPR 2019; [LUCIR] `utils_incremental/incremental_train_and_eval_MR_LF.py`
/// l.85-127, [AAN]
/// `trainer/incremental_lucir.py` l.114-144): a cosine head with learnable σ, imprinted new
/// vectors and frozen old ones, herding exemplars, and
///   L = CE(z, y) + L_lf + L_mr
/// - less-forget: L_lf = λ·(1/B) Σ_b (1 − cos(f_b, f*_b)), λ = λ_base·sqrt(|C_o|/|C_n|);
/// - margin ranking over the batch's old-class samples H:
///   L_mr = w·(1/(|H|·K)) Σ_{b∈H} Σ_k max(0, m − s_y + s_(k)), the K largest new-class cosines,
///   all cosines unscaled by σ, and L_mr = 0 when H is empty.
/// Defaults are the CIFAR-100 ones: λ_base 5, K 2, m 0.5, w 1. The reported classifier is
/// CNN (maintainer, [Issue #42]).
public final class LUCIR: IncrementalMethod {
    public static let name = "lucir"
    public static let summary = "LUCIR: cosine head, imprinting, less-forget (adaptive λ), margin ranking (K=2, m=0.5)"
    public static let settingKeys = ["lambda_base", "adaptive_lambda", "mr_k", "mr_margin", "mr_weight", "class_balanced_finetuning", "freeze_old_head", "eval_classifier"]
        + ClassBalancedFinetuning.settingKeys

    public let lambdaBase: Double
    public let adaptiveLambda: Bool
    public let hardNegatives: Int
    public let margin: Double
    public let marginWeight: Double
    /// Which classifier the method's headline number uses (CNN for LUCIR, [Issue #42]); the
    /// harness computes both either way.
    public let evalClassifier: String
    /// LUCIR's ImageNet-Full script ([LUCIR] `imagenet-class-incremental/run_all.sh`,
    /// `cbf_class_incremental_cosine_imagenet.py`) finetunes the head on the exemplars after
    /// each incremental phase; nil when off (the default, as in every other LUCIR script).
    public let classBalancedFinetuning: ClassBalancedFinetuning?
    var teacher: Teacher?
    var lambda = 0.0

    public init(settings: MethodSettings) throws {
        lambdaBase = try settings.double("lambda_base", default: 5)
        adaptiveLambda = try settings.bool("adaptive_lambda", default: true)
        hardNegatives = try settings.int("mr_k", default: 2)
        margin = try settings.double("mr_margin", default: 0.5)
        marginWeight = try settings.double("mr_weight", default: 1)
        evalClassifier = try settings.string("eval_classifier", default: "cnn", allowed: ["cnn", "nme"])
        guard try settings.bool("freeze_old_head", default: true) else {
            throw MethodError.unsupported("lucir: freeze_old_head false is not offered; LUCIR freezes old class vectors")
        }
        guard hardNegatives >= 1 else { throw MethodError.badSetting(key: "mr_k", value: "\(hardNegatives)", expected: "at least 1") }
        classBalancedFinetuning = try settings.bool("class_balanced_finetuning", default: false) ? ClassBalancedFinetuning(settings: settings) : nil
    }

    /// Phase 0 is cross-entropy on a cosine head, shared with the other such methods.
    public var phaseZeroSignature: String { cosineCrossEntropyPhaseZero }

    public var resolvedSettings: [String: String] {
        ["lambda_base": "\(lambdaBase)", "adaptive_lambda": "\(adaptiveLambda)", "mr_k": "\(hardNegatives)",
         "mr_margin": "\(margin)", "mr_weight": "\(marginWeight)", "class_balanced_finetuning": "\(classBalancedFinetuning != nil)",
         "freeze_old_head": "true", "eval_classifier": evalClassifier, "head": "cosine"]
            .merging(classBalancedFinetuning?.resolvedSettings ?? [:]) { a, _ in a }
    }

    public func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        CosineLinearHead(featureDimension: featureDimension, classes: classes, seed: seed)
    }

    /// λ_i = λ_base·sqrt(|C_o|/|C_n|) (the code's `lamda * sqrt(num_old_classes / nb_cl)`:
    /// [LUCIR] `cifar100-class-incremental/class_incremental_cosine_cifar100.py` l.206-211).
    public static func adaptiveLambda(base: Double, oldClasses: Int, newClasses: Int) -> Double {
        base * (Double(oldClasses) / Double(max(newClasses, 1))).squareRoot()
    }

    // K hard negatives are drawn from the phase's new classes; with fewer new classes than K
    // (e.g. Fashion-MNIST's one class per phase) every new class is a hard negative. The
    // reference code's topk would fail there, so this is cilbench's choice, recorded here.
    public func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        teacher = Teacher(snapshotOf: network)
        try CosineHeadGrowth.grow(network, context: context, features: newClassFeatures)
        lambda = adaptiveLambda ? Self.adaptiveLambda(base: lambdaBase, oldClasses: context.oldClasses, newClasses: context.newClasses) : lambdaBase
    }

    public func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        try loss(g, network: network, batch: batch, context: context, backboneMode: .training)
    }

    /// CBF runs after exemplar selection on this phase's data ([LUCIR]
    /// `imagenet-class-incremental/cbf_class_incremental_cosine_imagenet.py`).
    @discardableResult
    public func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement] {
        guard let classBalancedFinetuning, context.phase > 0 else { return [] }
        try classBalancedFinetuning.run(self, context: context, network: network, data: data)
        return []
    }

    /// The LUCIR loss with the backbone in `backboneMode`: training in the phase, evaluation
    /// in CBF (the reference's `fix_bn=True` keeps BN on running statistics).
    func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext, backboneMode: Mode) throws -> Var {
        guard let head = network.head as? CosineLinearHead else {
            throw MethodError.unsupported("lucir needs a cosine head, not \(type(of: network.head))")
        }
        let features = try network.backbone.features(g, g.constant(batch.images), mode: backboneMode).pooled
        let scores = cosineScores(g, head: head, features: features)
        let ce = g.crossEntropy(scores.logits, labels: batch.labels)
        guard context.phase > 0, let teacher else { return ce }
        let teacherFeatures = try teacher.outputs(batch.images, engine: g.engine).pooled
        let lf = Self.lessForget(g, features: features, teacherFeatures: teacherFeatures, lambda: lambda)
        var total = g.add(ce, lf)
        if let mr = try Self.marginRanking(g, cosines: scores.cosines, labels: batch.labels, oldClasses: context.oldClasses, hardNegatives: min(hardNegatives, context.newClasses), margin: margin) {
            total = g.add(total, g.scale(mr, by: marginWeight))
        }
        return total
    }

    /// λ·mean_b(1 − cos(f_b, f*_b)): `CosineEmbeddingLoss` with target 1
    /// ([LUCIR] `utils_incremental/incremental_train_and_eval_MR_LF.py` l.85-127).
    public static func lessForget(_ g: Graph, features: Var, teacherFeatures: Tensor, lambda: Double) -> Var {
        let student = g.l2NormalizeRows(features)
        let target = g.l2NormalizeRows(g.constant(teacherFeatures))   // a constant: no gradient
        let cosines = g.sum(g.multiply(student, target), axis: 1)
        let ones = g.constant(Tensor(filled: 1, shape: g[cosines].shape, dtype: g[cosines].dtype))
        return g.scale(g.mean(g.subtract(ones, cosines)), by: lambda)
    }

    /// `MarginRankingLoss(m)(s_y, s_(k), 1)` over every (old-class sample, hard negative)
    /// pair (same file), or nil when the batch holds no old-class sample. The K hard negatives
    /// are the largest new-class cosines (`topk` values; ties go to the lower class index);
    /// the gradient reaches only the selected cosines, as through `topk` and `masked_select`.
    public static func marginRanking(_ g: Graph, cosines: Var, labels: [Int32], oldClasses: Int, hardNegatives k: Int, margin: Double) throws -> Var? {
        let shape = g[cosines].shape, classes = shape[1]
        guard k <= classes - oldClasses else {
            throw MethodError.unsupported("margin ranking needs \(k) new classes, the head has \(classes - oldClasses)")
        }
        let values = g[cosines].doubles
        var rows: [Int] = [], truth: [Int] = [], negatives: [Int] = []
        for (b, label) in labels.enumerated() where Int(label) < oldClasses {
            let ranked = (oldClasses..<classes).sorted { values[b * classes + $0] > values[b * classes + $1] || (values[b * classes + $0] == values[b * classes + $1] && $0 < $1) }
            for c in ranked.prefix(k) {
                rows.append(b)
                truth.append(Int(label))
                negatives.append(c)
            }
        }
        guard !rows.isEmpty else { return nil }
        let sy = g.gather(cosines, rows: rows, columns: truth)
        let sk = g.gather(cosines, rows: rows, columns: negatives)
        let m = g.constant(Tensor(filled: margin, shape: [rows.count], dtype: g[cosines].dtype))
        return g.mean(g.relu(g.add(g.subtract(sk, sy), m)))
    }
}
