import CILData
import CILMethods

/// Which views of each exemplar the NME class means average (README.md, “Choices where the sources are silent”, G1).
///
/// [AAN] `trainer/base_trainer.py` `set_exemplar_set` (the flip at l.924, G1) and
/// [LUCIR] `cifar100-class-incremental/class_incremental_cosine_cifar100.py` (l.437) compute,
/// per class, on CIFAR:
///   D  = φ(exemplar images), every column normalised
///   D2 = φ(images[:, :, :, ::-1]), every column normalised            (the G1 line)
///   μ  = (D·a + D2·a) / 2 with a = 1/m on the m exemplars; μ /= ‖μ‖
/// i.e. normalise every feature of both views, average all 2m, renormalise. `[:, :, :, ::-1]`
/// reverses the last axis of the uint8 NHWC array, the colour channel, so the "flipped" copy
/// is the BGR image normalised with the RGB statistics — not a mirror image. On ImageNet
/// both codebases use no second view (the ImageNet branch sets D2 = D). PODNet uses a true
/// horizontal flip. Herding ranks on the original view only ([AAN]
/// `trainer/base_trainer.py` l.845-905), whatever this says.
public enum ClassMeanViews: String, Sendable, Hashable, Codable {
    /// One view: the test transform of each exemplar.
    case original
    /// The test transform and its channel-reversed copy (the reference's CIFAR "flip", G1).
    case withChannelReversed = "with-channel-reversed"
    /// The test transform and its mirror image (what the code presumably meant; PODNet's).
    case withHorizontalFlip = "with-horizontal-flip"

    /// The second view, if any.
    public var secondView: Preprocessing.View? {
        switch self {
        case .original: nil
        case .withChannelReversed: .channelReversed
        case .withHorizontalFlip: .horizontallyFlipped
        }
    }

    /// The views a protocol's preprocessing implies at a fidelity. LUCIR/AANets CIFAR (and
    /// Fashion-MNIST and synthetic data, which reuse that pipeline) reverse channels under
    /// `reference` and mirror under `corrected`; PODNet CIFAR mirrors under both; the
    /// ImageNet pipelines use one view under both (no codebase adds a copy there).
    public static func forPreprocessing(_ variant: PreprocessingVariant, fidelity: Fidelity) -> ClassMeanViews {
        switch variant {
        case .lucirCIFAR, .fashionMNISTPad32, .synthetic, .cifar10:
            fidelity == .reference ? .withChannelReversed : .withHorizontalFlip
        case .podnetCIFAR:
            .withHorizontalFlip
        case .lucirImageNet, .aanetsImageNet, .podnetImageNet, .resizeCrop, .resizeCropMeasured:
            .original
        }
    }

    /// Class means over the features of several views of the same exemplars (row r of
    /// every tensor is the same exemplar): every row of every view normalised, averaged
    /// per class over all views, and the mean normalised — the formula above, in
    /// float64. With one view it is the reference code's single-view mean
    /// (its ImageNet branch).
    public static func means(_ views: [Tensor], groups: [[Int]]) -> Tensor {
        ClassMeans.unit(views, groups: groups)
    }
}
