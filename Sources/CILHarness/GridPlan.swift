import CILData
import CILMethods
import Foundation

/// One run of a grid: a protocol (with the grid's and the matching rules' overrides), a
/// method, the AANets switch and a seed. Its id is its bundle's path under `--out` without
/// `.tar.zst`, the same path `cilbench run` writes, so a grid is idempotent: a cell whose
/// bundle exists and reads back is done.
public struct GridCell: Sendable {
    /// Position in the grid's expansion (protocols × methods × aanets × seeds, file order,
    /// excluded cells skipped): the Slurm array index.
    public var index: Int
    /// The protocol as the grid names it.
    public var protocolName: String
    public var method: String
    public var aanets: Bool
    public var seed: UInt64
    /// Every `--set` of the cell: the grid's, then the matching rules', in order.
    public var overrides: [String]
    /// The protocol loaded with the overrides.
    public var protocolFile: CILProtocol
    /// Cells with equal keys train the same phase 0 (`RunPlan.phaseZeroKey`).
    public var phaseZeroKey: String

    public var variant: String { aanets ? "\(method)+aanets" : method }

    /// `<protocol folder>/<variant>/seed-<n>`: the bundle's path relative to `--out`.
    public var id: String { "\(GridPaths.protocolFolderName(protocolFile, method: method, aanets: aanets))/\(variant)/seed-\(seed)" }

    public func bundleURL(out: URL) -> URL { GridPaths.bundleURL(out: out, protocol: protocolFile, method: method, aanets: aanets, seed: seed) }
    public func checkpointURL(out: URL) -> URL { bundleURL(out: out).deletingLastPathComponent().appendingPathComponent("seed-\(seed).checkpoint") }
    /// The grid's status file for the cell, beside its bundle (see `GridCellStatus`).
    public func statusURL(out: URL) -> URL { bundleURL(out: out).deletingLastPathComponent().appendingPathComponent("seed-\(seed).grid-status.json") }
    /// The log of the cell's worker (`grid run`) beside its bundle.
    public func logURL(out: URL) -> URL { bundleURL(out: out).deletingLastPathComponent().appendingPathComponent("seed-\(seed).log") }
}

/// A grid expanded into cells, every cell checked before anything runs: its protocol loads
/// with its overrides, its method exists and accepts its settings, its data is present, its
/// bundle path is a safe name, and no two cells are the same run. Cells with the same phase
/// 0 are grouped: the first of each group (the producer) runs first and leaves phase 0 in
/// `<out>/.phase0-cache`, the others start from it.
public struct GridPlan: Sendable {
    public struct PhaseZeroGroup: Sendable {
        public var producer: Int
        public var consumers: [Int]
    }

    public let grid: GridFile
    public let cells: [GridCell]
    /// Groups of two or more cells that share a phase 0, by producer index.
    public let sharedPhaseZero: [PhaseZeroGroup]

    /// Cells that others wait for, in index order.
    public var producers: [Int] { sharedPhaseZero.map(\.producer) }
    /// Every other cell, in index order.
    public var followers: [Int] {
        let first = Set(producers)
        return cells.map(\.index).filter { !first.contains($0) }
    }
    /// The producer a cell waits for, nil for producers and cells that share nothing.
    public func producer(of index: Int) -> Int? { sharedPhaseZero.first { $0.consumers.contains(index) }?.producer }

    /// Expands and checks `grid`. `threads` and `build` go into the phase-0 keys as they do
    /// for a run; `dataRoot` is where CIFAR and ImageNet are looked for (Fashion-MNIST
    /// defaults to Debian's copy, as for `cilbench run`).
    public init(grid: GridFile, library: ProtocolLibrary, dataRoot: String?, threads: Int, build: String) throws(GridError) {
        self.grid = grid
        let gridFolder = (grid.sourcePath as NSString).deletingLastPathComponent
        var loaded: [String: CILProtocol] = [:]
        var cells: [GridCell] = []
        var checkedData: Set<String> = []
        for name in grid.protocols {
            for method in grid.methods {
                for aanets in grid.aanets {
                    for seed in grid.seeds where !grid.exclusions.contains(where: { $0.matches(protocol: name, method: method, aanets: aanets, seed: seed) }) {
                        let overrides = grid.overrides + grid.cellRules.filter { $0.match.matches(protocol: name, method: method, aanets: aanets, seed: seed) }.flatMap(\.overrides)
                        let cellName = "\(name) \(aanets ? "\(method)+aanets" : method) seed \(seed)"
                        let cacheKey = ([name] + overrides).joined(separator: "\u{1}")
                        let file: CILProtocol
                        if let known = loaded[cacheKey] { file = known } else {
                            do {
                                file = try Self.loadProtocol(name, overrides: overrides, library: library, gridFolder: gridFolder)
                            } catch {
                                throw GridError(file: grid.sourcePath, line: nil, message: "protocol '\(name)': \(error)")
                            }
                            loaded[cacheKey] = file
                        }
                        if let problem = GridPaths.unsafeNameProblem(file.name) {
                            throw GridError(file: grid.sourcePath, line: nil, message: "protocol '\(name)': \(problem)")
                        }
                        let key: String
                        do { key = try RunPlan.phaseZeroKey(protocol: file, method: method, seed: seed, threads: threads, build: build) } catch {
                            throw GridError(file: grid.sourcePath, line: nil, message: "\(cellName): \(error)")
                        }
                        let dataKey = "\(file.dataset.kind.rawValue)|\(dataRoot ?? "")"
                        if !checkedData.contains(dataKey) {
                            if let problem = Self.missingData(file.dataset, dataRoot: dataRoot) {
                                throw GridError(file: grid.sourcePath, line: nil, message: "protocol '\(file.name)': \(problem)")
                            }
                            checkedData.insert(dataKey)
                        }
                        cells.append(GridCell(index: cells.count, protocolName: name, method: method, aanets: aanets, seed: seed,
                                              overrides: overrides, protocolFile: file, phaseZeroKey: key))
                    }
                }
            }
        }
        guard !cells.isEmpty else { throw GridError(file: grid.sourcePath, line: nil, message: "the grid has no cells (everything is excluded)") }
        var seen: [String: Int] = [:]
        for cell in cells {
            if let other = seen[cell.id] {
                throw GridError(file: grid.sourcePath, line: nil, message: "cells \(other) and \(cell.index) are the same run (\(cell.id)); remove one")
            }
            seen[cell.id] = cell.index
        }
        var groups: [String: [Int]] = [:]
        for cell in cells { groups[cell.phaseZeroKey, default: []].append(cell.index) }
        sharedPhaseZero = groups.values.filter { $0.count > 1 }.map { PhaseZeroGroup(producer: $0[0], consumers: Array($0.dropFirst())) }
            .sorted { $0.producer < $1.producer }
        self.cells = cells
    }

    /// A protocol named in a grid: a path (relative to the grid file's folder, or as given)
    /// when it contains `/` or ends in `.yaml`, else a name in the protocol folder.
    static func loadProtocol(_ name: String, overrides: [String], library: ProtocolLibrary, gridFolder: String) throws -> CILProtocol {
        if (name.contains("/") || name.hasSuffix(".yaml")) && !name.hasPrefix("/") {
            let besideGrid = (gridFolder as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: besideGrid) { return try library.load(besideGrid, overrides: overrides) }
        }
        return try library.load(name, overrides: overrides)
    }

    /// Whether the files a protocol's dataset needs are where a run would look, without
    /// reading them (`cilbench data check` verifies their content). Nil when present.
    public static func missingData(_ spec: DatasetSpec, dataRoot: String?) -> String? {
        let fm = FileManager.default
        func exists(_ path: String, folder: Bool = false) -> Bool {
            var isFolder: ObjCBool = false
            return fm.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue == folder
        }
        func any(_ root: String, _ names: [String]) -> Bool { names.contains { exists((root as NSString).appendingPathComponent($0)) } }
        switch spec.kind {
        case .synthetic:
            return nil
        case .fashionMNIST:
            let root = dataRoot ?? FashionMNIST.debianRoot
            guard exists(root, folder: true) else { return "the Fashion-MNIST folder \(root) does not exist (give --data-root, or install Debian's dataset-fashion-mnist)" }
            for base in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] where !any(root, [base, base + ".gz"]) {
                return "\(root) has no \(base)[.gz] (Fashion-MNIST)"
            }
            return nil
        case .cifar100:
            guard let root = dataRoot else { return "CIFAR-100 needs --data-root (a folder holding cifar-100-binary/ or cifar-100-python/)" }
            guard exists(root, folder: true) else { return "the data root \(root) does not exist on this machine" }
            let binary = ["train.bin", "test.bin"].allSatisfy { exists("\(root)/cifar-100-binary/\($0)") }
            let pickle = ["train", "test"].allSatisfy { exists("\(root)/cifar-100-python/\($0)") }
            return binary || pickle ? nil : "\(root) holds neither cifar-100-binary/{train,test}.bin nor cifar-100-python/{train,test}"
        case .imageNet, .imageNetSubset:
            guard let root = dataRoot else { return "ImageNet needs --data-root (the ILSVRC-2012 folder holding train/ and val/)" }
            guard exists(root, folder: true) else { return "the data root \(root) does not exist on this machine" }
            for split in ["train", "val"] where !exists("\(root)/\(split)", folder: true) { return "\(root) has no \(split)/ folder (ImageNet)" }
            return nil
        case .cifar10:
            guard let root = dataRoot ?? spec.root else { return "CIFAR-10 needs --data-root (a folder holding cifar-10-batches-bin/ or cifar-10-batches-py/)" }
            guard exists(root, folder: true) else { return "the data root \(root) does not exist on this machine" }
            return any(root, ["cifar-10-batches-bin/test_batch.bin", "cifar-10-batches-py/test_batch"]) ? nil
                : "\(root) holds neither cifar-10-batches-bin/ nor cifar-10-batches-py/"
        case .imageFolder, .tinyImageNet:
            guard let root = dataRoot ?? spec.root else { return "\(spec.kind.rawValue) needs --data-root or dataset.root" }
            guard exists(root, folder: true) else { return "the data root \(root) does not exist on this machine" }
            guard exists("\(root)/train", folder: true) else { return "\(root) has no train/ folder (\(spec.kind.rawValue))" }
            return nil
        }
    }

    /// The cell for an index, or an error naming the valid range.
    public func cell(_ index: Int) throws(GridError) -> GridCell {
        guard cells.indices.contains(index) else { throw GridError(file: grid.sourcePath, line: nil, message: "no cell \(index): the grid has cells 0-\(cells.count - 1)") }
        return cells[index]
    }
}

/// Bundle paths as `cilbench run` writes them: `RunExecution`'s rule, the one source.
public enum GridPaths {
    public static func bundleURL(out: URL, protocol file: CILProtocol, method: String, aanets: Bool, seed: UInt64) -> URL {
        RunExecution.bundleURL(out: out, protocol: file, method: method, aanets: aanets, seed: seed)
    }

    public static func protocolFolderName(_ file: CILProtocol, method: String, aanets: Bool) -> String {
        RunExecution.protocolFolderName(file, method: method, aanets: aanets)
    }

    /// Why a protocol name cannot be a folder name, nil when it can.
    public static func unsafeNameProblem(_ name: String) -> String? {
        do { try RunExecution.checkSafeName(name) } catch { return "\(error)" }
        return nil
    }
}
