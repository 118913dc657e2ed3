import CILData
import CILHarness
import Foundation
import Testing

@Suite struct ShippedProtocolTests {
    static let paperProtocols = ["cifar100-b50-5", "cifar100-b50-10", "cifar100-b50-25",
                                 "imagenet-subset-b50-5", "imagenet-subset-b50-10", "imagenet-subset-b50-25",
                                 "imagenet-subset-podnet-b50-5", "imagenet-subset-podnet-b50-10", "imagenet-subset-podnet-b50-25",
                                 "imagenet-b500-5", "imagenet-b500-10", "imagenet-b500-25"]
    static let reduced = ["fmnist-b5-5", "fmnist-b5-5-quick", "smoke"]
    /// Protocols on CIFAR-10, Tiny-ImageNet and a user's image folder (no paper table).
    static let otherDatasets = ["cifar10-b2-4", "cifar10-b5-5", "tiny-imagenet-b100-10", "image-folder-example"]

    @Test func libraryListsEveryShippedProtocol() throws {
        let names = try ProtocolLibrary(directory: protocolsFolder).names()
        #expect(Set(names) == Set(Self.paperProtocols + Self.reduced + Self.otherDatasets))
    }

    @Test(arguments: paperProtocols + reduced + otherDatasets)
    func shippedProtocolLoads(name: String) throws {
        let p = try ProtocolLibrary(directory: protocolsFolder).load(name)
        #expect(p.name == name)
        #expect(!p.summary.isEmpty)
        #expect(p.classOrder.count == p.totalClasses)
        #expect(p.fingerprint.count == 64)
        // Loading twice gives the same bits.
        #expect(try ProtocolLibrary(directory: protocolsFolder).load(name).canonicalText == p.canonicalText)
    }

    @Test func paperProtocolShapes() throws {
        let lib = ProtocolLibrary(directory: protocolsFolder)
        for (name, n, per) in [("cifar100-b50-5", 5, 10), ("cifar100-b50-25", 25, 2), ("imagenet-b500-10", 10, 50), ("imagenet-b500-25", 25, 20)] {
            let p = try lib.load(name)
            #expect(p.incrementalPhaseCount == n && p.classesPerPhase == per)
            #expect(p.phases.phaseCount == n + 1)
        }
        let cifar = try lib.load("cifar100-b50-5")
        #expect(Array(cifar.classOrder.labels.prefix(4)) == [68, 56, 78, 8])  // [POD] imagenet100_1order.yaml
        #expect(cifar.memory == .perClass(20))
        #expect(cifar.training.schedule.milestones == [80, 120] && cifar.training.schedule.stepsAtEpochStart)
        #expect(cifar.methods["lucir"]?.hyperParameters["lambda_base"] == .int(5))
        #expect(cifar.methods["aanets"]?.hyperParameters["alpha_lr"] == .double(1e-8))
        // PODNet's block swaps the shared multistep schedule for cosine, stepped after the epoch.
        let podnet = cifar.settings(forMethod: "podnet")
        #expect(podnet.training.schedule.kind == .cosine && !podnet.training.schedule.stepsAtEpochStart)
        #expect(podnet.training.epochs == 160 && podnet.backbone == .podnetResNet32)
        // G4: stepping at epoch start moves the ×0.1 to epoch index 79.
        #expect(cifar.training.learningRate(phase: 1, epoch: 78) == 0.1)
        #expect(abs(cifar.training.learningRate(phase: 1, epoch: 79) - 0.01) < 1e-15)

        let lucirSubset = try lib.load("imagenet-subset-b50-5")
        let podnetSubset = try lib.load("imagenet-subset-podnet-b50-5")
        #expect(lucirSubset.dataset.subset == .lucirSeed1993 && podnetSubset.dataset.subset == .podnetFirst100)
        #expect(lucirSubset.fingerprint != podnetSubset.fingerprint)
        #expect(lucirSubset.methods["lucir"]?.hyperParameters["lambda_base"] == .int(10))
    }

    @Test func everyShippedProtocolHasItsOwnFingerprint() throws {
        let lib = ProtocolLibrary(directory: protocolsFolder)
        let prints = try (Self.paperProtocols + Self.reduced).map { try lib.load($0).fingerprint }
        #expect(Set(prints).count == prints.count)
    }

    @Test func reducedProtocols() throws {
        let lib = ProtocolLibrary(directory: protocolsFolder)
        let quick = try lib.load("fmnist-b5-5-quick")
        #expect(quick.dataset.kind == .fashionMNIST && quick.baseClasses == 5 && quick.classesPerPhase == 1 && quick.incrementalPhaseCount == 5)
        #expect(quick.dataset.trainImagesPerClass == 300 && quick.backbone == .resnet32)
        let smoke = try lib.load("smoke")
        #expect(smoke.dataset.kind == .synthetic && smoke.totalClasses == 10 && smoke.phases.phaseCount == 3)
        #expect(try smoke.preprocessing.preprocessing(train: true, imageSize: 16).outputSize(inputHeight: 16, inputWidth: 16) == (16, 16))
    }
}

@Suite struct ProtocolFingerprintTests {
    static let minimal = """
        dataset: {name: synthetic, train_images_per_class: 8, test_images_per_class: 4, image_size: 8}
        classes: {total: 6, base: 2, per_phase: 2, order: numpy-seed-1993}
        memory: {policy: per-class, per_class: 2}
        backbone: resnet32
        preprocessing: synthetic
        training:
          epochs: 2
          batch_size: 4
          optimizer: {lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}
          schedule: {type: multistep, milestones: [1], gamma: 0.1, steps_at_epoch_start: true}
        methods:
          lucir: {lambda_base: 5, name_tag: "5"}
        """

    @Test func canonicalTextIsSortedAndResolved() throws {
        let p = try CILProtocol.parse(Self.minimal, file: "minimal.yaml")
        let order = ClassOrder.numpyShuffle(seed: 1993, classCount: 6).labels.map(String.init).joined(separator: ", ")
        let expected = """
            backbone = resnet32
            classes.base = 2
            classes.order = [\(order)]
            classes.per_phase = 2
            classes.phases = 2
            classes.total = 6
            dataset.image_size = 8
            dataset.name = synthetic
            dataset.subset = null
            dataset.synthetic_seed = 0
            dataset.test_images_per_class = 4
            dataset.train_images_per_class = 8
            memory.per_class = 2
            memory.policy = per-class
            methods.lucir.lambda_base = 5
            methods.lucir.name_tag = "5"
            preprocessing = synthetic
            training.batch_size = 4
            training.epochs = 2
            training.incremental_epochs = 2
            training.optimizer.incremental_lr = 0.1
            training.optimizer.lr = 0.1
            training.optimizer.momentum = 0.9
            training.optimizer.weight_decay = 0.0005
            training.schedule.gamma = 0.1
            training.schedule.milestones = [1]
            training.schedule.steps_at_epoch_start = true
            training.schedule.type = multistep
            training.test_batch_size = 4

            """
        #expect(p.canonicalText == expected)
        #expect(p.fingerprint == SHA256.hex(of: Array(expected.utf8)))
        #expect(p.name == "minimal")
    }

    @Test func spellingDoesNotChangeTheFingerprint() throws {
        let base = try CILProtocol.parse(Self.minimal, file: "a.yaml")
        // Other key order, block style, comments, 0.0005 for 5e-4, the order written out.
        let order = ClassOrder.numpyShuffle(seed: 1993, classCount: 6).labels.map(String.init).joined(separator: ", ")
        let respelled = """
            # the same protocol
            name: renamed
            methods:
              lucir: {name_tag: "5", lambda_base: 5}
            training:
              schedule: {steps_at_epoch_start: true, type: multistep, gamma: 0.1, milestones: [1]}
              optimizer:
                weight_decay: 0.0005
                momentum: 0.9
                lr: 1.0e-1
              batch_size: 4
              test_batch_size: 4
              epochs: 2
              incremental_epochs: 2
            preprocessing: synthetic
            backbone: resnet32
            memory: {per_class: 2, policy: per-class}
            classes: {total: 6, base: 2, phases: 2, order: [\(order)]}
            dataset: {name: synthetic, image_size: 8, train_images_per_class: 8, test_images_per_class: 4, synthetic_seed: 0}
            """
        #expect(try CILProtocol.parse(respelled, file: "b.yaml").fingerprint == base.fingerprint)
    }

    @Test(arguments: [
        "training.epochs=3", "training.incremental_epochs=1", "training.batch_size=8", "training.test_batch_size=2",
        "training.optimizer.lr=0.2", "training.optimizer.incremental_lr=0.05", "training.optimizer.momentum=0.8",
        "training.optimizer.weight_decay=1e-4", "training.schedule.milestones=[1, 2]", "training.schedule.gamma=0.2",
        "training.schedule.steps_at_epoch_start=false", "classes.base=4", "classes.per_phase=1", "classes.order=numpy-seed-7",
        "memory.per_class=3", "backbone=resnet18", "preprocessing=lucir-cifar", "dataset.synthetic_seed=1",
        "dataset.image_size=16", "dataset.train_images_per_class=9", "dataset.test_images_per_class=5",
        "methods.lucir.lambda_base=6", "methods.lucir.name_tag=5", "methods.lucir.extra=1", "methods.icarl.temperature=2",
        "methods.lucir.training.epochs=5",
    ])
    func everyChangeChangesTheFingerprint(override: String) throws {
        let base = try CILProtocol.parse(Self.minimal, file: "a.yaml")
        let changed = try CILProtocol.parse(Self.minimal, file: "a.yaml", overrides: [override])
        #expect(changed.fingerprint != base.fingerprint)
        #expect(changed.overrides == [override])
    }

    /// Bundles record the shared fingerprint: another method's block never changes it, any
    /// shared setting does, and a run's own method settings are compared beside it.
    @Test func sharedFingerprintIgnoresMethodBlocks() throws {
        let base = try CILProtocol.parse(Self.minimal, file: "a.yaml")
        let otherMethod = try CILProtocol.parse(Self.minimal, file: "a.yaml", overrides: ["methods.icarl.temperature=3"])
        #expect(otherMethod.fingerprint != base.fingerprint)
        #expect(otherMethod.sharedFingerprint == base.sharedFingerprint)
        #expect(otherMethod.resolvedSettings(method: "lucir", aanets: false) == base.resolvedSettings(method: "lucir", aanets: false))
        #expect(otherMethod.resolvedSettings(method: "icarl", aanets: false) != base.resolvedSettings(method: "icarl", aanets: false))
        let shared = try CILProtocol.parse(Self.minimal, file: "a.yaml", overrides: ["memory.per_class=3"])
        #expect(shared.sharedFingerprint != base.sharedFingerprint)
    }

    @Test func overridesApplyAndAreRecorded() throws {
        let p = try CILProtocol.parse(Self.minimal, file: "a.yaml", overrides: ["training.epochs=3", "memory.per_class=1"])
        #expect(p.training.epochs == 3 && p.training.incrementalEpochs == 3 && p.memory == .perClass(1))
        #expect(p.overrides == ["training.epochs=3", "memory.per_class=1"])
        // Restating the file's value is the same protocol.
        let same = try CILProtocol.parse(Self.minimal, file: "a.yaml", overrides: ["training.epochs=2"])
        #expect(try same.fingerprint == CILProtocol.parse(Self.minimal, file: "a.yaml").fingerprint)
        let settings = p.resolvedSettings(method: "lucir", aanets: false)
        #expect(settings["method.lambda_base"] == "5" && settings["training.epochs"] == "3" && settings["aanets"] == "false")
    }
}

@Suite struct BadProtocolTests {
    func error(_ text: String, overrides: [String] = []) -> ProtocolError? {
        do {
            _ = try CILProtocol.parse(text, file: "bad.yaml", overrides: overrides)
            return nil
        } catch {
            return error
        }
    }

    func replacing(_ old: String, _ new: String) -> String {
        precondition(ProtocolFingerprintTests.minimal.contains(old))
        return ProtocolFingerprintTests.minimal.replacingOccurrences(of: old, with: new)
    }

    func expectOneLine(_ e: ProtocolError?, line: Int?, field: String, containing words: String) {
        guard let e else { Issue.record("expected an error for \(field)"); return }
        #expect(e.line == line, "\(e)")
        #expect(e.field == field, "\(e)")
        #expect(e.message.contains(words), "\(e)")
        #expect(!e.description.contains("\n"))
        #expect(e.description.hasPrefix(line.map { "bad.yaml:\($0):" } ?? "bad.yaml"))
    }

    @Test func syntaxErrorNamesTheLine() {
        let e = error(replacing("  batch_size: 4", "  batch_size: [4"))
        #expect(e?.file == "bad.yaml")
        #expect(e?.line != nil && (e?.line ?? 0) >= 8, "\(String(describing: e))")
        #expect(e?.message.hasPrefix("YAML syntax error") == true)
        #expect(e?.description.contains("\n") == false)
    }

    @Test func unknownField() {
        expectOneLine(error(replacing("  batch_size: 4", "  batch_size: 4\n  batchsize: 4")), line: 9, field: "training.batchsize", containing: "unknown field")
        expectOneLine(error("colour: red\n" + ProtocolFingerprintTests.minimal), line: 1, field: "colour", containing: "unknown field")
    }

    @Test func phasesThatDoNotDivideTheClasses() {
        expectOneLine(error(replacing("per_phase: 2", "per_phase: 3")), line: 2, field: "classes.per_phase", containing: "do not divide")
        expectOneLine(error(replacing("per_phase: 2", "per_phase: 2, phases: 3")), line: 2, field: "classes.phases", containing: "do not add up")
    }

    @Test func memoryLargerThanTheData() {
        expectOneLine(error(replacing("per_class: 2}", "per_class: 9}")), line: 3, field: "memory.per_class", containing: "more than the 8 training images")
        expectOneLine(error(replacing("{policy: per-class, per_class: 2}", "{policy: fixed-total, total: 20}")), line: 3, field: "memory.total", containing: "10 per class")
    }

    @Test func otherContradictionsAndBadValues() {
        expectOneLine(error(replacing("base: 2", "base: 6")), line: 2, field: "classes.base", containing: "leave none")
        expectOneLine(error(replacing("milestones: [1]", "milestones: [2, 1]")), line: 10, field: "training.schedule.milestones", containing: "increasing")
        expectOneLine(error(replacing("backbone: resnet32", "backbone: resnet50")), line: 4, field: "backbone", containing: "unknown value 'resnet50'")
        expectOneLine(error(replacing("epochs: 2", "epochs: two")), line: 7, field: "training.epochs", containing: "whole number")
        expectOneLine(error(replacing("type: multistep, milestones: [1], gamma: 0.1", "type: cosine, milestones: [1]")), line: 10, field: "training.schedule.milestones", containing: "only multistep")
        expectOneLine(error(replacing("order: numpy-seed-1993", "order: [0, 1, 2]")), line: 2, field: "classes.order", containing: "the order has 3 classes")
        expectOneLine(error(replacing("preprocessing: synthetic\n", "")), line: nil, field: "preprocessing", containing: "missing")
        expectOneLine(error(replacing("steps_at_epoch_start: true}", "steps_at_epoch_start: true, lags_one_epoch: true}")), line: 10,
                      field: "training.schedule.lags_one_epoch", containing: "contradicts steps_at_epoch_start")
    }

    @Test func badOverridesNameTheOverride() {
        let e = error(ProtocolFingerprintTests.minimal, overrides: ["training.epochs=0"])
        #expect(e?.file == "--set training.epochs=0" && e?.field == "training.epochs" && e?.line == nil)
        #expect(e?.description == "--set training.epochs=0: training.epochs: must be at least 1, got 0")
        let unknown = error(ProtocolFingerprintTests.minimal, overrides: ["training.epoch=3"])
        #expect(unknown?.field == "training.epoch" && unknown?.message.contains("unknown field") == true)
        #expect(error(ProtocolFingerprintTests.minimal, overrides: ["epochs"])?.message.contains("path=value") == true)
    }

    @Test func missingAndEmptyFiles() {
        #expect(throws: ProtocolError.self) { try CILProtocol.load(file: "/nonexistent/x.yaml") }
        #expect(error("")?.message == "the file is empty")
        #expect(throws: ProtocolError.self) { try ProtocolLibrary(directory: protocolsFolder).load("no-such-protocol") }
    }
}
