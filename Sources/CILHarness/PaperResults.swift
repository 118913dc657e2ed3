/// AANets Table 1 values that were checked against a source ([ACIL] Table 1, which says it
/// duplicates AANets' values), for `cilbench table --paper`. Rows we found no readable copy
/// of (iCaRL, LUCIR and Mnemonics with AANets; they are in the CVPR 2021 PDF's Table 1) and
/// the suspect iCaRL ImageNet-1k cells are absent, so they show as unknown rather than as
/// invented numbers.
public enum PaperResults {
    /// Average incremental accuracy (%) reported in Table 1 for a method label
    /// (`lucir`, `podnet+aanets`, ...) on a shipped protocol, nil when not verified.
    public static func averageIncrementalAccuracy(methodLabel: String, protocolName: String) -> Double? {
        guard let row = table[methodLabel], let column = column(methodLabel: methodLabel, protocolName: protocolName) else { return nil }
        return row[column]
    }

    /// Whether a protocol is one of Table 1's nine settings (for either subset).
    public static func isPaperProtocol(_ protocolName: String) -> Bool {
        column(methodLabel: "lucir", protocolName: protocolName) != nil || column(methodLabel: "podnet", protocolName: protocolName) != nil
    }

    /// Table 1 has one ImageNet-Subset column, but PODNet's rows ran on PODNet's subset and
    /// the others on LUCIR's (PODNet's `imagenet_split/val_100.txt` vs [LUCIR]
    /// `imagenet-class-incremental/gen_imagenet_subset.py`): each row maps to the protocol of
    /// its own subset.
    static func column(methodLabel: String, protocolName: String) -> Int? {
        let podnetRow = methodLabel.hasPrefix("podnet")
        let columns = ["cifar100-b50-5", "cifar100-b50-10", "cifar100-b50-25",
                       podnetRow ? "imagenet-subset-podnet-b50-5" : "imagenet-subset-b50-5",
                       podnetRow ? "imagenet-subset-podnet-b50-10" : "imagenet-subset-b50-10",
                       podnetRow ? "imagenet-subset-podnet-b50-25" : "imagenet-subset-b50-25",
                       "imagenet-b500-5", "imagenet-b500-10", "imagenet-b500-25"]
        return columns.firstIndex(of: protocolName)
    }

    /// AANets Table 1 as copied in [ACIL] Table 1 ("duplicated from" AANets). nil = not usable.
    static let table: [String: [Double?]] = [
        "lwf": [49.59, 46.98, 45.51, 53.62, 47.64, 44.32, 51.50, 46.89, 43.14],
        "bic": [59.36, 54.20, 50.00, 70.07, 64.96, 57.73, 62.65, 58.72, 53.47],
        // The ImageNet-1k triple equals LwF's, probably a copying error in [ACIL] or its source.
        "icarl": [57.12, 52.66, 48.22, 65.44, 59.88, 52.97, nil, nil, nil],
        "lucir": [63.17, 60.14, 57.54, 70.84, 68.32, 61.44, 64.45, 61.57, 56.56],
        "mnemonics": [64.95, 63.25, 63.70, 73.30, 72.17, 71.50, 66.15, 63.12, 63.08],
        "podnet": [64.83, 63.19, 60.72, 75.54, 74.33, 68.31, 66.95, 64.13, 59.17],
        "podnet+aanets": [66.31, 64.31, 62.31, 76.96, 75.58, 71.78, 67.73, 64.85, 61.78],
    ]
}
