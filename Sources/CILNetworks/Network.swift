/// A classifier head over pooled features.
public protocol ClassifierHead: AnyObject {
    var parameters: [Parameter] { get }
    var classCount: Int { get }
    func logits(_ g: Graph, features: Var) -> Var
    func copy() -> any ClassifierHead
    var structure: HeadStructure { get }
}

extension CosineLinearHead: ClassifierHead {}
extension LinearHead: ClassifierHead {
    public var classCount: Int { weight.value.shape[0] }
}

/// Backbone plus head: what a method trains and the harness evaluates.
public final class Network {
    public var backbone: any Backbone
    public var head: any ClassifierHead

    public init(backbone: any Backbone, head: any ClassifierHead) {
        self.backbone = backbone
        self.head = head
    }

    public var parameters: [Parameter] { backbone.parameters + head.parameters }

    /// A deep, frozen copy: the teacher of the next phase.
    public func frozenCopy() -> Network {
        let copy = Network(backbone: backbone.copy(CloneSpec()), head: head.copy())
        for p in copy.parameters { p.isTrainable = false }
        return copy
    }

    public struct Output {
        public var logits: Var
        public var features: BackboneFeatures
    }

    public func forward(_ g: Graph, images: Var, mode: Mode) throws -> Output {
        let f = try backbone.features(g, images, mode: mode)
        return Output(logits: head.logits(g, features: f.pooled), features: f)
    }
}
