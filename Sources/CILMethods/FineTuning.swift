/// Plain fine-tuning, the lower bound: each phase trains on the new classes alone with
/// cross-entropy over all seen classes, keeps no exemplars and does nothing to remember.
public final class FineTuning: CrossEntropyBound, IncrementalMethod {
    public static let name = "finetune"
    public static let summary = "lower bound: cross-entropy on new classes only, no memory"
    public static let settingKeys = ["head"]
}
