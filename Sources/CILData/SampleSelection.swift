import CILKernels

/// Index sets that training draws from: the samples of some classes (a phase's new
/// classes), fixed exemplar sets, and balanced random subsets. Indices are positions in
/// one dataset and double as stable sample ids for the augmentation streams.
public enum SampleSelection {
    /// Every sample whose label is in `classes`, in dataset order.
    public static func indices(labels: [Int], classes: some Sequence<Int>) -> [Int] {
        let wanted = Set(classes)
        return labels.indices.filter { wanted.contains(labels[$0]) }
    }

    /// Samples grouped by label.
    public static func byClass(labels: [Int], classCount: Int) -> [[Int]] {
        var groups = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() { groups[label].append(i) }
        return groups
    }

    /// `perClass` random samples of each class in `classes` (all of a class if it has
    /// fewer), drawn without replacement from `RandomStream(seed, purpose, phase, class)`.
    public static func balanced(labels: [Int], classes: [Int], perClass: Int, seed: UInt64, purpose: String = "balanced", phase: Int) -> [Int] {
        let maxLabel = (labels.max() ?? -1) + 1
        let groups = byClass(labels: labels, classCount: max(maxLabel, (classes.max() ?? -1) + 1))
        var out: [Int] = []
        for c in classes {
            let members = groups[c]
            var stream = RandomStream(seed: seed, purpose: purpose, phase, c)
            let picks = stream.permutation(members.count).prefix(perClass)
            out += picks.sorted().map { members[$0] }
        }
        return out
    }

    /// A phase's training set: all samples of its new classes plus the exemplars kept.
    public static func phaseTraining(labels: [Int], newClasses: [Int], exemplars: [Int]) -> [Int] {
        let newSet = indices(labels: labels, classes: newClasses)
        let kept = Set(newSet)
        return newSet + exemplars.filter { !kept.contains($0) }
    }
}
