/// One method's block of a protocol, resolved: its backbone, preprocessing and training
/// (the protocol's shared ones unless the block overrides them, e.g. PODNet's cosine
/// schedule) and its own hyper-parameters as written. The method plug-ins read the
/// hyper-parameters by name; the harness records them without interpreting them.
public struct MethodBlock: Sendable, Hashable {
    public var backbone: BackboneKind
    public var preprocessing: PreprocessingVariant
    public var training: TrainingSettings
    public var hyperParameters: [String: ProtocolValue]

    public init(backbone: BackboneKind, preprocessing: PreprocessingVariant, training: TrainingSettings, hyperParameters: [String: ProtocolValue]) {
        self.backbone = backbone
        self.preprocessing = preprocessing
        self.training = training
        self.hyperParameters = hyperParameters
    }
}
