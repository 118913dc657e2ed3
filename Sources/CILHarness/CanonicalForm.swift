import CILData

/// One resolved setting in canonical form.
public struct CanonicalLine: Sendable, Hashable {
    public var path: String
    public var value: String
}

/// The canonical form of a protocol: one `path = value` line per resolved setting, sorted
/// by path, values in one spelling each (numbers in Swift's shortest round-trip form, the
/// class order as its resolved label list). Its SHA-256 is the protocol's fingerprint.
///
/// The name, summary, source path and list of overrides are left out: the fingerprint says
/// what was run, so a renamed copy of a protocol, or an override that restates the file's
/// value, is the same protocol. Every change of a setting changes it.
enum CanonicalForm {
    static func lines(_ p: CILProtocol) -> [CanonicalLine] {
        var out: [CanonicalLine] = []
        func add(_ path: String, _ value: String) { out.append(CanonicalLine(path: path, value: value)) }
        add("dataset.name", p.dataset.kind.rawValue)
        add("dataset.subset", p.dataset.subset?.rawValue ?? "null")
        add("dataset.train_images_per_class", p.dataset.trainImagesPerClass.map(String.init) ?? "all")
        add("dataset.test_images_per_class", p.dataset.testImagesPerClass.map(String.init) ?? "all")
        if p.dataset.kind == .synthetic {
            add("dataset.image_size", p.dataset.imageSize.map(String.init) ?? "null")
            add("dataset.synthetic_seed", p.dataset.syntheticSeed.map(String.init) ?? "null")
        } else if let size = p.dataset.imageSize {
            add("dataset.image_size", String(size))  // folder datasets resized on load
        }
        add("classes.total", String(p.totalClasses))
        add("classes.base", String(p.baseClasses))
        add("classes.per_phase", String(p.classesPerPhase))
        add("classes.phases", String(p.incrementalPhaseCount))
        add("classes.order", "[" + p.classOrder.labels.map(String.init).joined(separator: ", ") + "]")
        switch p.memory {
        case .perClass(let m): add("memory.policy", "per-class"); add("memory.per_class", String(m))
        case .fixedTotal(let k): add("memory.policy", "fixed-total"); add("memory.total", String(k))
        }
        add("backbone", p.backbone.rawValue)
        add("preprocessing", p.preprocessing.rawValue)
        out += trainingLines(prefix: "training", p.training)
        for name in p.methods.keys.sorted() {
            out += methodLines(name: "methods.\(name)", p.methods[name]!, shared: p)
        }
        return out.sorted { $0.path < $1.path }
    }

    /// A method block's lines; with `shared`, settings equal to the protocol's shared ones
    /// are left out, so restating them changes nothing.
    static func methodLines(name: String, _ m: MethodBlock, shared: CILProtocol?) -> [CanonicalLine] {
        var out: [CanonicalLine] = []
        if shared?.backbone != m.backbone { out.append(CanonicalLine(path: "\(name).backbone", value: m.backbone.rawValue)) }
        if shared?.preprocessing != m.preprocessing {
            out.append(CanonicalLine(path: "\(name).preprocessing", value: m.preprocessing.rawValue))
        }
        if shared?.training != m.training { out += trainingLines(prefix: "\(name).training", m.training) }
        for key in m.hyperParameters.keys.sorted() {
            out.append(CanonicalLine(path: "\(name).\(key)", value: m.hyperParameters[key]!.description))
        }
        if out.isEmpty { out.append(CanonicalLine(path: name, value: "{}")) }
        return out.sorted { $0.path < $1.path }
    }

    static func trainingLines(prefix: String, _ t: TrainingSettings) -> [CanonicalLine] {
        var out: [CanonicalLine] = []
        func add(_ path: String, _ value: String) { out.append(CanonicalLine(path: "\(prefix).\(path)", value: value)) }
        add("epochs", String(t.epochs))
        add("incremental_epochs", String(t.incrementalEpochs))
        add("batch_size", String(t.batchSize))
        add("test_batch_size", String(t.testBatchSize))
        add("optimizer.lr", String(t.learningRate))
        add("optimizer.incremental_lr", String(t.incrementalLearningRate))
        add("optimizer.momentum", String(t.momentum))
        add("optimizer.weight_decay", String(t.weightDecay))
        add("schedule.type", t.schedule.kind.rawValue)
        switch t.schedule.kind {
        case .constant: break
        case .multistep:
            add("schedule.milestones", "[" + t.schedule.milestones.map(String.init).joined(separator: ", ") + "]")
            add("schedule.gamma", String(t.schedule.gamma))
        case .cosine:
            add("schedule.min_lr", String(t.schedule.minimumLearningRate))
        }
        add("schedule.steps_at_epoch_start", String(t.schedule.stepsAtEpochStart))
        // Only where set, so protocols without it keep their fingerprints.
        if t.schedule.lagsOneEpoch { add("schedule.lags_one_epoch", "true") }
        return out
    }
}

extension CILProtocol {
    /// The canonical settings, sorted by path.
    public var canonicalLines: [CanonicalLine] { CanonicalForm.lines(self) }

    /// The canonical form as text: `path = value` lines, each ending in a newline.
    public var canonicalText: String { canonicalLines.map { "\($0.path) = \($0.value)\n" }.joined() }

    /// SHA-256 (hex) of the canonical text. Runs with different fingerprints are never
    /// compared silently.
    public var fingerprint: String { SHA256.hex(of: Array(canonicalText.utf8)) }

    /// SHA-256 of the canonical lines every method shares (all but the `methods.` blocks):
    /// what a bundle records as its protocol fingerprint, so adding or editing another
    /// method's block never makes stored runs incomparable. A run's own method settings are
    /// recorded beside it and compared separately (`RunResult.methodSettingsDigest`).
    public var sharedFingerprint: String {
        SHA256.hex(of: Array(canonicalLines.filter { !$0.path.hasPrefix("methods.") }.map { "\($0.path) = \($0.value)\n" }.joined().utf8))
    }
}
