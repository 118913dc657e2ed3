import CILMethods
import CILData

/// A class-incremental benchmark protocol, resolved: every field has its value, defaults
/// included, and the settings have been checked against each other. Load one with
/// `CILProtocol.load(file:overrides:)` or `ProtocolLibrary`.
public struct CILProtocol: Sendable, Hashable {
    /// The protocol's name (the file name without `.yaml` unless the file says otherwise).
    public var name: String
    public var summary: String
    /// The file it was read from.
    public var sourcePath: String
    public var dataset: DatasetSpec
    public var classOrderSource: ClassOrderSource
    public var totalClasses: Int
    /// Classes learned in phase 0.
    public var baseClasses: Int
    /// Classes learned in each incremental phase.
    public var classesPerPhase: Int
    public var memory: MemoryPolicy
    public var backbone: BackboneKind
    public var preprocessing: PreprocessingVariant
    public var training: TrainingSettings
    /// Resolved blocks of the methods the file configures, by method name (`aanets` holds
    /// the plug-in's own settings).
    public var methods: [String: MethodBlock]
    /// `--set` overrides applied, as `path=value`, in the order given.
    public var overrides: [String]
    /// The class order, resolved and checked against `totalClasses`.
    public var classOrder: ClassOrder
    /// Which classes each phase learns.
    public var phases: PhaseSchedule

    /// N, the number of incremental phases (the run has N + 1 evaluations).
    public var incrementalPhaseCount: Int { phases.phaseCount - 1 }

    /// A method's settings: its block if the protocol has one, else the shared settings
    /// with no hyper-parameters of its own.
    public func settings(forMethod method: String) -> MethodBlock {
        methods[method] ?? MethodBlock(backbone: backbone, preprocessing: preprocessing, training: training, hyperParameters: [:])
    }

    /// Every setting a run of `method` (with the AANets plug-in or not) depends on, as
    /// canonical `path = value` pairs sorted by path, for the bundle manifest.
    public func resolvedSettings(method: String, aanets: Bool) -> [String: String] {
        var out: [String: String] = [:]
        for line in canonicalLines where !line.path.hasPrefix("methods.") { out[line.path] = line.value }
        let own = settings(forMethod: method)
        for line in CanonicalForm.methodLines(name: "method", own, shared: nil) { out[line.path] = line.value }
        out["method.name"] = method
        // Recorded even when defaulted, so a bundle always says which fidelity it ran
        // (README.md, "Sources cited": quirks G1-G14).
        let fidelity = own.hyperParameters[Fidelity.settingKey]?.plainText ?? Fidelity.reference.rawValue
        out["method.\(Fidelity.settingKey)"] = fidelity
        out["method.class_mean_views"] = ClassMeanViews.forPreprocessing(own.preprocessing, fidelity: Fidelity(rawValue: fidelity) ?? .reference).rawValue
        if aanets, let plug = methods["aanets"] {
            for (key, value) in plug.hyperParameters { out["aanets.\(key)"] = value.description }
        }
        out["aanets"] = String(aanets)
        return out
    }
}
