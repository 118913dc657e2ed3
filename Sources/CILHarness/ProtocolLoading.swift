import CILMethods
import CILData
import Foundation

extension CILProtocol {
    /// Reads a protocol file, applies `--set path=value` overrides, and decodes and checks
    /// it. Every problem is one `ProtocolError` naming the file, line and field.
    public static func load(file path: String, overrides: [String] = []) throws(ProtocolError) -> CILProtocol {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ProtocolError(file: path, line: nil, field: "", message: "cannot read the protocol file (\(error.localizedDescription))")
        }
        return try parse(text, file: path, overrides: overrides)
    }

    /// As `load`, from text; `file` names it in errors and gives the default name.
    public static func parse(_ text: String, file: String, overrides: [String] = []) throws(ProtocolError) -> CILProtocol {
        var root = try ProtocolNode.parse(text, file: file)
        var origins: [String: String] = [:]
        for override in overrides {
            let (path, value) = try parseOverride(override)
            try root.set(path: path.split(separator: ".", omittingEmptySubsequences: false), to: value, fullPath: path)
            origins[path] = "--set \(override)"
        }
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        return try ProtocolDecoder(file: file, overrideOrigins: origins).decode(root, defaultName: stem, sourcePath: file, overrides: overrides)
    }

    static func parseOverride(_ text: String) throws(ProtocolError) -> (String, ProtocolNode) {
        let origin = "--set \(text)"
        guard let eq = text.firstIndex(of: "=") else {
            throw ProtocolError(file: origin, line: nil, field: "", message: "expected path=value, e.g. training.epochs=3")
        }
        let path = String(text[..<eq])
        let valueText = String(text[text.index(after: eq)...])
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } }) else {
            throw ProtocolError(file: origin, line: nil, field: path, message: "not a dotted field path")
        }
        if valueText.trimmingCharacters(in: .whitespaces).isEmpty {
            return (path, ProtocolNode(kind: .scalar("", quoted: false), line: nil))
        }
        return (path, try ProtocolNode.parse(valueText, file: origin).withoutLines)
    }
}

/// Turns a protocol tree into a checked `CILProtocol`.
private struct ProtocolDecoder {
    let file: String
    /// Override paths and how they were given, so errors in overridden values name `--set`.
    let overrideOrigins: [String: String]

    /// A mapping being read: its path, the line of its key, and its entries.
    struct Section {
        var path: String
        var line: Int?
        var entries: [ProtocolNode.Entry]

        func entry(_ key: String) -> ProtocolNode.Entry? {
            entries.first { $0.key == key }.flatMap { entry in
                if case .scalar("", quoted: false) = entry.value.kind { return nil }  // `key:` with no value
                if case .scalar(let s, quoted: false) = entry.value.kind, ["null", "~"].contains(s) { return nil }
                return entry
            }
        }
        func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    func fail(_ line: Int?, _ path: String, _ message: String) -> ProtocolError {
        if line == nil, let origin = overrideOrigins.keys.sorted().first(where: { $0 == path || path.hasPrefix($0 + ".") }) {
            return ProtocolError(file: overrideOrigins[origin]!, line: nil, field: path, message: message)
        }
        // A check across fields of a section an override changed: the file's line, and the flag.
        let section = path.split(separator: ".").first.map(String.init) ?? path
        let related = overrideOrigins.keys.sorted().filter { $0.split(separator: ".").first.map(String.init) == section }.compactMap { overrideOrigins[$0] }
        if !related.isEmpty { return ProtocolError(file: file, line: line, field: path, message: "\(message) (after \(related.joined(separator: ", ")))") }
        return ProtocolError(file: file, line: line, field: path, message: message)
    }

    func fail(_ entry: ProtocolNode.Entry, in s: Section, _ message: String) -> ProtocolError {
        fail(entry.keyLine ?? entry.value.line, s.path(entry.key), message)
    }

    func section(_ node: ProtocolNode?, path: String, line: Int?, allowed: [String]?) throws(ProtocolError) -> Section {
        guard let node else { return Section(path: path, line: line, entries: []) }
        guard case .mapping(let entries) = node.kind else {
            throw fail(line ?? node.line, path, "must be a section of fields, not a single value")
        }
        let s = Section(path: path, line: line, entries: entries)
        if let allowed {
            for e in entries where !allowed.contains(e.key) {
                throw fail(e, in: s, "unknown field (known here: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
        return s
    }

    func subsection(_ s: Section, _ key: String, allowed: [String]?) throws(ProtocolError) -> Section {
        let e = s.entry(key)
        return try section(e?.value, path: s.path(key), line: e?.keyLine ?? s.line, allowed: allowed)
    }

    func scalar(_ e: ProtocolNode.Entry, in s: Section) throws(ProtocolError) -> String {
        guard case .scalar(let text, _) = e.value.kind else { throw fail(e, in: s, "must be a single value") }
        return text
    }

    func missing(_ s: Section, _ key: String) -> ProtocolError { fail(s.line, s.path(key), "missing (required)") }

    /// Whole numbers are at most `maximum` (a million unless said otherwise), so sizes and
    /// their products stay far from overflow.
    func int(_ s: Section, _ key: String, default value: Int? = nil, minimum: Int = 1, maximum: Int = 1_000_000) throws(ProtocolError) -> Int {
        guard let e = s.entry(key) else {
            if let value { return value }
            throw missing(s, key)
        }
        let text = try scalar(e, in: s)
        guard let v = Int(text) else { throw fail(e, in: s, "expected a whole number, got '\(text)'") }
        guard v >= minimum else { throw fail(e, in: s, "must be at least \(minimum), got \(v)") }
        guard v <= maximum else { throw fail(e, in: s, "must be at most \(maximum), got \(v)") }
        return v
    }

    /// A count or `all`.
    func count(_ s: Section, _ key: String) throws(ProtocolError) -> Int? {
        guard let e = s.entry(key) else { return nil }
        if try scalar(e, in: s) == "all" { return nil }
        return try int(s, key)
    }

    func double(_ s: Section, _ key: String, default value: Double? = nil, range: ClosedRange<Double> = 0...Double.greatestFiniteMagnitude,
                exclusiveLower: Bool = false) throws(ProtocolError) -> Double {
        guard let e = s.entry(key) else {
            if let value { return value }
            throw missing(s, key)
        }
        let text = try scalar(e, in: s)
        guard let v = Double(text), v.isFinite else { throw fail(e, in: s, "expected a number, got '\(text)'") }
        guard range.contains(v), !(exclusiveLower && v == range.lowerBound) else {
            throw fail(e, in: s, "\(text) is out of range (\(exclusiveLower ? "above" : "at least") \(range.lowerBound)\(range.upperBound < 1e300 ? ", at most \(range.upperBound)" : ""))")
        }
        return v
    }

    func bool(_ s: Section, _ key: String, default value: Bool? = nil) throws(ProtocolError) -> Bool {
        guard let e = s.entry(key) else {
            if let value { return value }
            throw missing(s, key)
        }
        switch try scalar(e, in: s) {
        case "true": return true
        case "false": return false
        case let text: throw fail(e, in: s, "expected true or false, got '\(text)'")
        }
    }

    func string(_ s: Section, _ key: String, default value: String? = nil) throws(ProtocolError) -> String {
        guard let e = s.entry(key) else {
            if let value { return value }
            throw missing(s, key)
        }
        return try scalar(e, in: s)
    }

    func choice<E: RawRepresentable & CaseIterable>(_ s: Section, _ key: String, _ type: E.Type, default value: E? = nil) throws(ProtocolError) -> E
    where E.RawValue == String {
        guard let e = s.entry(key) else {
            if let value { return value }
            throw missing(s, key)
        }
        let text = try scalar(e, in: s)
        guard let v = E(rawValue: text) else {
            throw fail(e, in: s, "unknown value '\(text)' (expected one of: \(E.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return v
    }

    func intList(_ e: ProtocolNode.Entry, in s: Section) throws(ProtocolError) -> [Int] {
        guard case .sequence(let items) = e.value.kind else { throw fail(e, in: s, "expected a list like [80, 120]") }
        var out: [Int] = []
        for item in items {
            guard case .scalar(let text, _) = item.kind, let v = Int(text) else {
                throw fail(item.line ?? e.keyLine, s.path(e.key), "expected a list of whole numbers")
            }
            out.append(v)
        }
        return out
    }

    // MARK: the protocol

    func decode(_ root: ProtocolNode, defaultName: String, sourcePath: String, overrides: [String]) throws(ProtocolError) -> CILProtocol {
        let top = try section(root, path: "", line: nil, allowed: ["name", "description", "dataset", "classes", "memory", "backbone", "preprocessing", "training", "methods"])
        let name = try string(top, "name", default: defaultName)
        // The name becomes a folder under --out: one safe path component.
        if (try? RunExecution.checkSafeName(name)) == nil { throw fail(top.entry("name")?.keyLine, "name", RunExecutionError.unsafeName(name).description) }
        let summary = try string(top, "description", default: "")
        let dataset = try decodeDataset(try subsection(top, "dataset", allowed: ["name", "subset", "train_images_per_class", "test_images_per_class", "image_size", "synthetic_seed", "root", "cache"]))

        let classes = try subsection(top, "classes", allowed: ["total", "base", "per_phase", "phases", "order"])
        let total: Int
        if let known = dataset.datasetClassCount {
            total = try int(classes, "total", default: known)
            if total != known, let e = classes.entry("total") {
                throw fail(e, in: classes, "\(dataset.kind.rawValue) has \(known) classes, not \(total)")
            }
        } else {
            total = try int(classes, "total", minimum: 2)
        }
        let base = try int(classes, "base")
        guard base < total else { throw fail(classes.entry("base")!, in: classes, "\(base) base classes leave none of the \(total) for the incremental phases") }
        let perPhase: Int
        if classes.entry("per_phase") == nil, let phasesEntry = classes.entry("phases") {
            let n = try int(classes, "phases")
            guard (total - base) % n == 0 else {
                throw fail(phasesEntry, in: classes, "\(n) phases do not divide the \(total - base) incremental classes")
            }
            perPhase = (total - base) / n
        } else {
            perPhase = try int(classes, "per_phase")
        }
        guard (total - base) % perPhase == 0 else {
            throw fail(classes.entry("per_phase")!, in: classes, "\(perPhase) classes per phase do not divide the \(total - base) classes after the \(base) base classes")
        }
        if let e = classes.entry("phases") {
            let n = try int(classes, "phases")
            guard n * perPhase == total - base else {
                throw fail(e, in: classes, "\(n) phases of \(perPhase) classes do not add up to the \(total - base) classes after the base")
            }
        }
        let phases: PhaseSchedule
        do { phases = try PhaseSchedule(totalClasses: total, initialClasses: base, increment: perPhase) } catch {
            throw fail(classes.line, classes.path, "\(error)")
        }
        let (orderSource, order) = try decodeOrder(classes, total: total)

        let memory = try decodeMemory(try subsection(top, "memory", allowed: ["policy", "per_class", "total"]), dataset: dataset, base: base)
        let backbone = try choice(top, "backbone", BackboneKind.self)
        let preprocessing = try choice(top, "preprocessing", PreprocessingVariant.self)
        let trainingNode = top.entry("training")?.value
        let training = try decodeTraining(trainingNode, path: "training", line: top.entry("training")?.keyLine)
        let methodsSection = try subsection(top, "methods", allowed: nil)
        var methods: [String: MethodBlock] = [:]
        for e in methodsSection.entries {
            guard !e.key.isEmpty, e.key.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw fail(e, in: methodsSection, "method names are lower-case words")
            }
            methods[e.key] = try decodeMethod(e, in: methodsSection, backbone: backbone, preprocessing: preprocessing, trainingNode: trainingNode)
        }
        if let problem = dataset.syntheticSizeProblem(totalClasses: total) { throw fail(top.entry("dataset")?.keyLine, "dataset", problem) }
        return CILProtocol(name: name, summary: summary, sourcePath: sourcePath, dataset: dataset, classOrderSource: orderSource,
                           totalClasses: total, baseClasses: base, classesPerPhase: perPhase, memory: memory, backbone: backbone,
                           preprocessing: preprocessing, training: training, methods: methods, overrides: overrides,
                           classOrder: order, phases: phases)
    }

    func decodeDataset(_ s: Section) throws(ProtocolError) -> DatasetSpec {
        let kind = try choice(s, "name", DatasetSpec.Kind.self)
        var d = DatasetSpec(kind: kind)
        if kind == .imageNetSubset {
            d.subset = try choice(s, "subset", ImageNetSubset.self)
        } else if let e = s.entry("subset") {
            throw fail(e, in: s, "only imagenet-subset has subsets")
        }
        if kind == .synthetic {
            d.trainImagesPerClass = try int(s, "train_images_per_class")
            d.testImagesPerClass = try int(s, "test_images_per_class")
            d.imageSize = try int(s, "image_size", minimum: 8, maximum: 1024)
            d.syntheticSeed = try int(s, "synthetic_seed", default: 0, minimum: 0, maximum: .max)
        } else {
            if let e = s.entry("synthetic_seed") { throw fail(e, in: s, "only synthetic datasets have synthetic_seed") }
            if kind.isFolder {
                if s.entry("image_size") != nil { d.imageSize = try int(s, "image_size", minimum: 8) }
            } else if let e = s.entry("image_size") {
                throw fail(e, in: s, "only synthetic and folder datasets (image-folder, tiny-imagenet) have image_size")
            }
            d.trainImagesPerClass = try count(s, "train_images_per_class")
            d.testImagesPerClass = try count(s, "test_images_per_class")
            if let n = d.trainImagesPerClass, let full = d.fullTrainImagesPerClass, n > full {
                throw fail(s.entry("train_images_per_class")!, in: s, "\(kind.rawValue) has \(full) training images per class (fewest of any class), not \(n)")
            }
            if let n = d.testImagesPerClass, let full = d.fullTestImagesPerClass, n > full {
                throw fail(s.entry("test_images_per_class")!, in: s, "\(kind.rawValue) has \(full) test images per class, not \(n)")
            }
        }
        try decodeDatasetLocation(s, into: &d)
        return d
    }

    /// `root` (any dataset read from files) and `cache` (folder datasets).
    func decodeDatasetLocation(_ s: Section, into d: inout DatasetSpec) throws(ProtocolError) {
        if let e = s.entry("root") {
            guard d.kind != .synthetic else { throw fail(e, in: s, "synthetic datasets are generated, they have no root") }
            d.root = try scalar(e, in: s)
        }
        if let e = s.entry("cache") {
            guard d.kind.isFolder else { throw fail(e, in: s, "only folder datasets (image-folder, tiny-imagenet) have a cache setting") }
            d.cache = try choice(s, "cache", DatasetSpec.Cache.self)
        }
    }

    func decodeOrder(_ classes: Section, total: Int) throws(ProtocolError) -> (ClassOrderSource, ClassOrder) {
        let source: ClassOrderSource
        let e = classes.entry("order")
        if let e {
            if case .sequence = e.value.kind {
                source = .list(try intList(e, in: classes))
            } else {
                let text = try scalar(e, in: classes)
                if text == "sorted" {
                    source = .sorted
                } else if text.hasPrefix("numpy-seed-") {
                    guard let seed = UInt32(text.dropFirst("numpy-seed-".count)) else {
                        throw fail(e, in: classes, "numpy-seed-<n> needs a seed in 0...\(UInt32.max)")
                    }
                    source = .numpySeed(seed)
                } else {
                    source = .named(text)
                }
            }
        } else {
            source = .numpySeed(1993)
        }
        let order: ClassOrder
        do { order = try source.resolve(classCount: total) } catch {
            throw fail(e?.keyLine ?? classes.line, classes.path("order"), "\(error)")
        }
        guard order.count == total else {
            throw fail(e?.keyLine ?? classes.line, classes.path("order"), "the order has \(order.count) classes, the protocol \(total)")
        }
        return (source, order)
    }

    func decodeMemory(_ s: Section, dataset: DatasetSpec, base: Int) throws(ProtocolError) -> MemoryPolicy {
        let policy = try string(s, "policy")
        let available = dataset.usedTrainImagesPerClass
        switch policy {
        case "per-class":
            if let e = s.entry("total") { throw fail(e, in: s, "a per-class memory has no total; use policy: fixed-total") }
            let m = try int(s, "per_class")
            if let available, m > available {
                throw fail(s.entry("per_class")!, in: s, "\(m) exemplars per class is more than the \(available) training images per class")
            }
            return .perClass(m)
        case "fixed-total":
            if let e = s.entry("per_class") { throw fail(e, in: s, "a fixed-total memory has no per_class; use policy: per-class") }
            let k = try int(s, "total")
            let policy = MemoryPolicy.fixedTotal(k)
            let first = policy.exemplarsPerClass(seenClasses: base)
            if let available, first > available {
                throw fail(s.entry("total")!, in: s, "\(k) exemplars over the \(base) base classes is \(first) per class, more than the \(available) training images per class")
            }
            return policy
        default:
            throw fail(s.entry("policy")!, in: s, "unknown value '\(policy)' (expected one of: per-class, fixed-total)")
        }
    }

    func decodeTraining(_ node: ProtocolNode?, path: String, line: Int?) throws(ProtocolError) -> TrainingSettings {
        let s = try section(node, path: path, line: line, allowed: ["epochs", "incremental_epochs", "batch_size", "test_batch_size", "optimizer", "schedule"])
        let epochs = try int(s, "epochs", maximum: 10_000)
        let incrementalEpochs = try int(s, "incremental_epochs", default: epochs, maximum: 10_000)
        let batch = try int(s, "batch_size")
        let testBatch = try int(s, "test_batch_size", default: batch)
        let o = try subsection(s, "optimizer", allowed: ["lr", "incremental_lr", "momentum", "weight_decay"])
        let lr = try double(o, "lr", range: 0...1e6, exclusiveLower: true)
        let incrementalLR = try double(o, "incremental_lr", default: lr, range: 0...1e6, exclusiveLower: true)
        let momentum = try double(o, "momentum", default: 0, range: 0...0.999999)
        let weightDecay = try double(o, "weight_decay", default: 0)
        let sch = try subsection(s, "schedule", allowed: ["type", "milestones", "gamma", "min_lr", "steps_at_epoch_start", "lags_one_epoch"])
        let kind = try choice(sch, "type", TrainingSettings.Schedule.Kind.self)
        var schedule = TrainingSettings.Schedule(kind: kind, stepsAtEpochStart: try bool(sch, "steps_at_epoch_start"),
                                                 lagsOneEpoch: try bool(sch, "lags_one_epoch", default: false))
        if schedule.stepsAtEpochStart && schedule.lagsOneEpoch, let e = sch.entry("lags_one_epoch") {
            throw fail(e, in: sch, "lags_one_epoch (a scheduler stepped after the epoch) contradicts steps_at_epoch_start: true")
        }
        switch kind {
        case .multistep:
            guard let e = sch.entry("milestones") else { throw missing(sch, "milestones") }
            let milestones = try intList(e, in: sch)
            guard !milestones.isEmpty, milestones.first! > 0, zip(milestones, milestones.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw fail(e, in: sch, "milestones must be increasing epoch numbers above 0")
            }
            schedule.milestones = milestones
            schedule.gamma = try double(sch, "gamma", range: 0...1, exclusiveLower: true)
            if let e = sch.entry("min_lr") { throw fail(e, in: sch, "only cosine schedules have min_lr") }
        case .cosine:
            schedule.minimumLearningRate = try double(sch, "min_lr", default: 0)
            guard schedule.minimumLearningRate < min(lr, incrementalLR) else {
                throw fail(sch.entry("min_lr")!, in: sch, "min_lr must be below the learning rate")
            }
            for key in ["milestones", "gamma"] {
                if let e = sch.entry(key) { throw fail(e, in: sch, "only multistep schedules have \(key)") }
            }
        case .constant:
            for key in ["milestones", "gamma", "min_lr"] {
                if let e = sch.entry(key) { throw fail(e, in: sch, "a constant schedule has no \(key)") }
            }
        }
        return TrainingSettings(epochs: epochs, incrementalEpochs: incrementalEpochs, batchSize: batch, testBatchSize: testBatch,
                                learningRate: lr, incrementalLearningRate: incrementalLR, momentum: momentum,
                                weightDecay: weightDecay, schedule: schedule)
    }

    func decodeMethod(_ e: ProtocolNode.Entry, in parent: Section, backbone: BackboneKind, preprocessing: PreprocessingVariant,
                      trainingNode: ProtocolNode?) throws(ProtocolError) -> MethodBlock {
        let s = try section(e.value, path: parent.path(e.key), line: e.keyLine, allowed: nil)
        let ownBackbone = try choice(s, "backbone", BackboneKind.self, default: backbone)
        let ownPreprocessing = try choice(s, "preprocessing", PreprocessingVariant.self, default: preprocessing)
        var training = try decodeTraining(trainingNode, path: "training", line: nil)
        if let own = s.entry("training") {
            guard case .mapping = own.value.kind else { throw fail(own, in: s, "must be a section of training fields") }
            var merged = (trainingNode ?? ProtocolNode(kind: .mapping([]), line: nil)).merged(with: own.value)
            // A method's schedule replaces the shared one whole: merging a cosine block into a
            // multistep one would leave milestones that cosine does not have.
            if let schedule = own.value["schedule"] { try merged.set(path: ["schedule"], to: schedule, fullPath: s.path("training.schedule")) }
            training = try decodeTraining(merged, path: s.path("training"), line: own.keyLine)
        }
        var hyper: [String: ProtocolValue] = [:]
        for h in s.entries where !["backbone", "preprocessing", "training"].contains(h.key) {
            switch h.value.kind {
            case .scalar(let text, let quoted):
                hyper[h.key] = .scalar(text, quoted: quoted)
            case .sequence(let items):
                var values: [ProtocolValue] = []
                for item in items {
                    guard case .scalar(let text, let quoted) = item.kind else {
                        throw fail(h, in: s, "hyper-parameter lists hold single values")
                    }
                    values.append(.scalar(text, quoted: quoted))
                }
                hyper[h.key] = .list(values)
            case .mapping:
                throw fail(h, in: s, "hyper-parameters are single values or lists (only backbone, preprocessing and training are sections)")
            }
        }
        return MethodBlock(backbone: ownBackbone, preprocessing: ownPreprocessing, training: training, hyperParameters: hyper)
    }
}
