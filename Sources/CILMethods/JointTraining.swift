/// Joint training on every seen class's full training data, the upper bound.
public final class JointTraining: CrossEntropyBound, IncrementalMethod {
    public static let name = "joint"
    public static let summary = "upper bound: cross-entropy on all training data of all seen classes"
    public static let settingKeys = ["head"]

    public override var trainingData: TrainingData { .allSeenClasses }
}
