/// The two 100-class ImageNet subsets that both go by "ImageNet-100" ([LUCIR]
/// `imagenet-class-incremental/gen_imagenet_subset.py` l.31-34; [POD]
/// `imagenet_split/val_100.txt`; the difference is confirmed in [POD]'s issue #17). They
/// share no definition: LUCIR/AANets draw 100 wnids at random with seed 1993; PODNet takes
/// the first 100 wnids in sorted order.
public enum ImageNetSubset: String, Sendable, CaseIterable {
    /// LUCIR / AANets-LUCIR / Mnemonics / PyCIL: the first 100 entries of the seed-1993
    /// permutation of the 1000 sorted wnids ("seed_1993_subset_100_imagenet").
    case lucirSeed1993 = "imagenet-subset-lucir"
    /// PODNet / POD-AANets `imagenet_split/train_100.txt`: sorted wnids 0-99.
    case podnetFirst100 = "imagenet100-podnet"

    /// The subset's wnids in learning order. `allWnids` are the 1000 ILSVRC-2012 training
    /// wnids (folder names of `train/`), or the 100 of a copy holding only the subset;
    /// within the subset, labels are alphabetical positions (ImageFolder), learned in the
    /// seed-1993 100-class order.
    public func learningOrder(allWnids: [String]) throws -> [String] {
        let sorted = allWnids.sorted()
        let members: [String]
        switch (self, sorted.count) {
        case (.lucirSeed1993, 1000):
            members = MersenneTwister.numpyPermutation(seed: 1993, count: 1000).prefix(100).map { sorted[$0] }
        case (.podnetFirst100, 1000):
            members = Array(sorted.prefix(100))
        case (_, 100):
            // A copy that already holds only the subset's 100 class folders.
            members = sorted
        default:
            throw DataError.invalidArgument("\(rawValue) needs the 1000 ILSVRC-2012 wnids or the subset's 100, got \(sorted.count)")
        }
        let order = ClassOrder.numpyShuffle(seed: 1993, classCount: 100)
        let alphabetical = members.sorted()
        let learned = order.labels.map { alphabetical[$0] }
        // Pinned lists catch a wnid set that is not ILSVRC-2012's (or the other subset).
        switch self {
        case .lucirSeed1993 where learned != Self.lucirLearningOrder:
            throw DataError.invalidArgument("\(rawValue): these wnids do not give the pinned LUCIR subset; wrong wnid list or the PODNet subset?")
        case .podnetFirst100 where members.first != "n01440764" || members.last != "n01855672":
            throw DataError.invalidArgument("\(rawValue): these wnids do not give PODNet's subset (sorted wnids n01440764…n01855672); wrong wnid list or the LUCIR subset?")
        default:
            return learned
        }
    }

    /// The LUCIR/AANets subset ([LUCIR] `imagenet-class-incremental/gen_imagenet_subset.py`
    /// l.31-34) in learning order, the seed-1993 order indexing its sorted wnids (phase 0 =
    /// first 50).
    public static let lucirLearningOrder: [String] = """
        n03710193 n03089624 n04152593 n01806567 n02107574 n04409515 n04599235 n03657121 n03942813 n04026417
        n02640242 n04591157 n01689811 n07614500 n03085013 n01882714 n02112706 n04266014 n02786058 n02526121
        n03141823 n03775071 n04074963 n01531178 n04428191 n02096177 n02091467 n02971356 n02116738 n03017168
        n02002556 n04355933 n02840245 n04371430 n01774384 n03223299 n04399382 n02088094 n02033041 n02814860
        n04604644 n02669723 n03884397 n03250847 n04153751 n03016953 n02101388 n01914609 n02128385 n03075370
        n02363005 n09468604 n02011460 n03785016 n12267677 n12768682 n12620546 n01537544 n03532672 n03691459
        n02749479 n02105056 n02279972 n04442312 n02107908 n02229544 n04525305 n02102318 n15075141 n01514668
        n04550184 n02115913 n02094258 n07892512 n01984695 n01990800 n02948072 n02112137 n02123597 n02917067
        n03485407 n03759954 n02280649 n03290653 n01775062 n03527444 n03967562 n01744401 n02128757 n01729322
        n03000247 n02950826 n03891332 n07831146 n02536864 n03697007 n02120079 n02951585 n03109150 n02168699
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
}
