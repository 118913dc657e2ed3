import Foundation

/// PODNet-CNN ([POD] `inclearn/models/podnet.py`,
/// `options/podnet/podnet_cnn_cifar100.yaml`): PODNet's own ResNet variants
/// (`inclearn/convnet/`), an LSC head (K proxies per class, learned scale η),
/// k-means-imprinted new proxies with the old ones frozen, the loss
///   L = NCA(η, ŝ, y) + λ_f·√(n_seen/n_task)·POD-flat + λ_c·√(n_seen/n_task)·POD-spatial,
/// every gradient clamped to [−5, 5], and classifier-only balanced finetuning on the
/// exemplar memory after every phase > 0. Evaluation is CNN (argmax ŝ).
///
/// `fidelity: reference` computes the NCA as the code does (G8: δ cancels, the positive
/// stays in the denominator, no hinge); `corrected` computes the paper's formula.
/// Defaults are the CIFAR-100 values; the ImageNet protocols set pod_flat 10, pod_spatial 8,
/// finetune_lr 0.01, finetune_batch_size 64 (and finetune_weight_decay 1e-4 on ImageNet-1k).
/// The finetuning's batch size and weight decay are the run's own in the code; a method
/// does not see the protocol's training section, so they are settings here.
public final class PODNetCNN: IncrementalMethod {
    public static let name = "podnet"
    public static let summary = "PODNet-CNN: LSC head (10 proxies), NCA, POD-spatial + POD-flat, k-means imprinting, grad clamp 5, balanced finetuning"
    /// The protocol files' vocabulary (protocols/README.md, `podnet` block).
    public static let settingKeys = ["classifier", "proxies_per_class", "distance", "scale_init", "nca_margin", "pod_flat", "pod_spatial",
                                     "freeze_old_head", "imprint_centres", "gradient_clamp", "finetune_epochs", "finetune_lr",
                                     "finetune_batch_size", "finetune_weight_decay", "eval_classifier"]

    public let proxies: Int
    public let margin: Double
    /// η's initial value.
    public let initialScale: Double
    /// λ_c and λ_f, before the √(n_seen/n_task) schedule.
    public let spatialFactor: Double
    public let flatFactor: Double
    public let clamp: Double
    public let fidelity: Fidelity
    /// The classifier the paper reports (CNN); the harness records both.
    public let evalClassifier: String
    public let finetuning: BalancedFinetuning
    var teacher: Teacher?
    /// √(n_seen/n_task) of the current phase.
    var schedule = 1.0

    public init(settings: MethodSettings) throws {
        _ = try settings.string("classifier", default: "lsc", allowed: ["lsc"])
        _ = try settings.string("distance", default: "neg_stable_cosine", allowed: ["neg_stable_cosine"])
        guard try settings.bool("freeze_old_head", default: true) else {
            throw MethodError.unsupported("podnet: freeze_old_head false is not offered; PODNet gives old proxies lr 0")
        }
        proxies = try settings.int("proxies_per_class", default: 10)
        guard proxies >= 1 else { throw MethodError.badSetting(key: "proxies_per_class", value: "\(proxies)", expected: "at least 1") }
        // The code clusters into `proxy_per_class` centres: one centre per proxy.
        let centres = try settings.int("imprint_centres", default: proxies)
        guard centres == proxies else {
            throw MethodError.badSetting(key: "imprint_centres", value: "\(centres)", expected: "equal to proxies_per_class (\(proxies)): k-means gives one centre per proxy")
        }
        margin = try settings.double("nca_margin", default: 0.6)
        initialScale = try settings.double("scale_init", default: 1)
        spatialFactor = try settings.double("pod_spatial", default: 3)
        flatFactor = try settings.double("pod_flat", default: 1)
        clamp = try settings.double("gradient_clamp", default: 5)
        fidelity = try settings.fidelity()
        evalClassifier = try settings.string("eval_classifier", default: "cnn", allowed: ["cnn", "nme"])
        let epochs = try settings.int("finetune_epochs", default: 20)
        let lr = try settings.double("finetune_lr", default: 0.05)
        let batch = try settings.int("finetune_batch_size", default: 128)
        let decay = try settings.double("finetune_weight_decay", default: 5e-4)
        guard clamp > 0 else { throw MethodError.badSetting(key: "gradient_clamp", value: "\(clamp)", expected: "a positive number") }
        guard epochs >= 0 else { throw MethodError.badSetting(key: "finetune_epochs", value: "\(epochs)", expected: "0 or more") }
        guard batch >= 1 else { throw MethodError.badSetting(key: "finetune_batch_size", value: "\(batch)", expected: "at least 1") }
        guard initialScale > 0 else { throw MethodError.badSetting(key: "scale_init", value: "\(initialScale)", expected: "a positive number") }
        finetuning = BalancedFinetuning(epochs: epochs, learningRate: lr, batchSize: batch, weightDecay: decay, gradientClamp: clamp,
                                        margin: margin, form: fidelity == .reference ? .reference : .paper)
    }

    public var resolvedSettings: [String: String] {
        ["classifier": "lsc", "proxies_per_class": "\(proxies)", "distance": "neg_stable_cosine", "scale_init": "\(initialScale)",
         "nca_margin": "\(margin)", "pod_flat": "\(flatFactor)", "pod_spatial": "\(spatialFactor)", "freeze_old_head": "true",
         "imprint_centres": "\(proxies)", "gradient_clamp": "\(clamp)", "finetune_epochs": "\(finetuning.epochs)",
         "finetune_lr": "\(finetuning.learningRate)", "finetune_batch_size": "\(finetuning.batchSize)",
         "finetune_weight_decay": "\(finetuning.weightDecay)", "eval_classifier": evalClassifier, "fidelity": fidelity.rawValue]
    }

    /// Phase 0 is NCA on an LSC head over PODNet's backbone with clamped gradients; the POD
    /// terms and the finetuning start at phase 1, so only these settings matter there.
    public var phaseZeroSignature: String {
        "podnet-backbone+lsc(K=\(proxies),gamma=1,eta0=\(initialScale))+nca(\(fidelity.rawValue),margin=\(margin))+clamp(\(clamp))"
    }

    public var gradientClamp: Double? { clamp }

    /// PODNet trains its own ResNet variants ([POD] `inclearn/convnet/`, G9, G10).
    public func backbone(for architecture: ResNetArchitecture) -> ResNetArchitecture {
        switch architecture {
        case .resnet32: .podnetResNet32
        case .resnet18: .podnetResNet18
        default: architecture
        }
    }

    public func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        LocalSimilarityHead(featureDimension: featureDimension, classes: classes, proxiesPerClass: proxies, initialScale: initialScale, seed: seed)
    }

    public func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        // The teacher is the network as the previous phase left it, finetuned head included
        // (`_after_task` copies the network after `_train_task`, finetuning and all).
        teacher = Teacher(snapshotOf: network)
        try ProxyImprinting.grow(network, context: context, features: newClassFeatures)
        schedule = PODDistillation.scheduleFactor(seenClasses: context.seenClasses, newClasses: context.newClasses)
    }

    public func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        guard let head = network.head as? LocalSimilarityHead else {
            throw MethodError.unsupported("podnet needs an LSC head, not \(type(of: network.head))")
        }
        let features = try network.backbone.features(g, g.constant(batch.images), mode: .training)
        let nca = g.ncaLoss(head.logits(g, features: features.pooled), scale: g.parameter(head.scale), labels: batch.labels,
                            margin: margin, form: fidelity == .reference ? .reference : .paper)
        guard context.phase > 0, let teacher else { return nca }
        let old = try teacher.podOutputs(batch.images, engine: g.engine)
        let flat = g.scale(PODDistillation.flat(g, student: features.pooled, teacher: old.pooled), by: flatFactor * schedule)
        let spatial = g.scale(try PODDistillation.spatial(g, student: features.stages, teacher: old.stages), by: spatialFactor * schedule)
        return g.add(nca, g.add(flat, spatial))
    }

    /// G17: the PODNet + AANets code builds a new network for its dual branches at phase 1
    /// whose post-processor is a fresh `FactorScalar` at the config's initial value, so the
    /// learned η of phase 0 is dropped ([POD-AAN] `inclearn/models/rmm.py` `_before_task`
    /// l.256-281: `network.AANets(..., postprocessor_kwargs=...)` keeps the classifier, not
    /// the post-processor). Under `fidelity: reference` η restarts there; `corrected` keeps it.
    public func didBuildAggregation(_ context: PhaseContext, network: Network) throws {
        guard fidelity == .reference, let head = network.head as? LocalSimilarityHead else { return }
        head.scale.value = Tensor(filled: initialScale, shape: head.scale.value.shape, dtype: head.scale.value.dtype)
    }

    @discardableResult
    public func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement] {
        guard context.phase > 0 else { return [] }
        try finetuning.run(context, network: network, data: data)
        return []
    }
}
