import CILData
import CILHarness
import CILMethods
import Foundation
import Testing

/// PODNet-CNN: losses against hand-computed values, the LSC head, k-means imprinting,
/// settings, and end-to-end runs (plain, AANets, resumed).
@Suite(.serialized) struct PODNetTests {
    let engine = try! ComputeEngine(threads: 2)

    func value(_ build: (Graph) throws -> Var) rethrows -> Double {
        let g = Graph(engine: engine)
        return g[try build(g)].scalarValue
    }

    func tensor(_ rows: [[Double]]) -> Tensor { Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0 }) }

    // MARK: NCA ([POD] `inclearn/lib/losses/base.py` `nca`, G8)

    /// Scores ŝ = [−0.5, −1, −2], η = 2, δ = 0.6. Reference: u = η(ŝ − δ) = [−2.2, −3.2, −5.2];
    /// label 0 (the arg-max): log(1 + e⁻¹ + e⁻³) = 0.349012; label 1: 1 + log(1 + 1 + e⁻³) = 1.717736.
    @Test func ncaReferenceMatchesHandValues() throws {
        let scores = tensor([[-0.5, -1, -2], [-0.5, -1, -2]])
        let eta = Tensor(shape: [1], scalars: [2.0])
        let loss = value { g in g.ncaLoss(g.constant(scores), scale: g.constant(eta), labels: [0, 1], margin: 0.6, form: .reference) }
        #expect(abs(loss - (0.349012216768186 + 1.717735918666703) / 2) < 1e-12)
        // The margin cancels (G8)…
        let noMargin = value { g in g.ncaLoss(g.constant(scores), scale: g.constant(eta), labels: [0, 1], margin: 0, form: .reference) }
        #expect(abs(loss - noMargin) < 1e-12)
        // …and with the label at the arg-max it is softmax cross-entropy with scale η.
        let first = tensor([[-0.5, -1, -2]])
        let nca = value { g in g.ncaLoss(g.constant(first), scale: g.constant(eta), labels: [0], margin: 0.6, form: .reference) }
        let ce = value { g in g.crossEntropy(g.scale(g.constant(first), by: 2), labels: [0]) }
        #expect(abs(nca - ce) < 1e-12)
    }

    /// The paper's form: −η(ŝ_y − δ) + log Σ_{c≠y} exp(η ŝ_c), hinged per sample.
    /// Row 1 ([−0.5, −1, −2], y 0): 2.2 + log(e⁻² + e⁻⁴) = 0.326928; row 2 ([0, −3, −3], y 0):
    /// 1.2 + log(2e⁻⁶) = −4.107 → 0.
    @Test func ncaPaperFormMatchesHandValues() throws {
        let scores = tensor([[-0.5, -1, -2], [0, -3, -3]])
        let loss = value { g in g.ncaLoss(g.constant(scores), scale: g.constant(Tensor(shape: [1], scalars: [2.0])), labels: [0, 0], margin: 0.6, form: .paper) }
        #expect(abs(loss - 0.326928011042973 / 2) < 1e-12)
    }

    // MARK: POD ([POD] `inclearn/lib/losses/distillation.py` l.28-96)

    /// One 2×2 single-channel map [[1, 2], [3, 4]] against all ones. Squared and summed over
    /// width: [5, 25]; over height: [10, 20]; normalised by √1150. The teacher's is [½, ½, ½, ½].
    /// ‖v − v*‖ = 0.480309; the same map twice gives 0; mean over the batch and the levels.
    @Test func podSpatialMatchesHandValues() throws {
        let student = Tensor(shape: [2, 2, 2, 1], scalars: [1.0, 2, 3, 4, 1, 1, 1, 1], layout: .nhwc)
        let teacher = Tensor(shape: [2, 2, 2, 1], scalars: [Double](repeating: 1, count: 8), layout: .nhwc)
        let one = try value { g in try PODDistillation.spatial(g, student: [g.constant(student)], teacher: [teacher]) }
        #expect(abs(one - 0.480308782077982 / 2) < 1e-12)
        let two = try value { g in try PODDistillation.spatial(g, student: [g.constant(student), g.constant(teacher)], teacher: [teacher, teacher]) }
        #expect(abs(two - 0.480308782077982 / 4) < 1e-12)
        #expect(throws: MethodError.self) { _ = try value { g in try PODDistillation.spatial(g, student: [g.constant(student)], teacher: []) } }
    }

    /// 1 − cos: ([1, 0], [0, 1]) → 1; ([1, 1], [2, 2]) → 0; mean ½. Factor √(n_seen/n_task).
    @Test func podFlatAndScheduleMatchHandValues() throws {
        let flat = value { g in PODDistillation.flat(g, student: g.constant(tensor([[1, 0], [1, 1]])), teacher: tensor([[0, 1], [2, 2]])) }
        #expect(abs(flat - 0.5) < 1e-12)
        #expect(abs(PODDistillation.scheduleFactor(seenClasses: 60, newClasses: 10) - 6.0.squareRoot()) < 1e-15)
    }

    // MARK: LSC head

    /// Feature [1, 0]; one class with proxies [1, 0] and [0, 1]: s = [0, −2],
    /// ŝ = −2·e⁻²/(1 + e⁻²) = −0.238406.
    @Test func lscScoreMatchesHandValue() throws {
        let score = value { g in LocalSimilarityHead.classScores(g, features: g.constant(tensor([[1, 0]])), proxies: g.constant(tensor([[1, 0], [0, 1]])), proxiesPerClass: 2, gamma: 1) }
        #expect(abs(score - -0.238405844044235) < 1e-12)
    }

    /// The checkpoint shape rebuilds the same parameters (names, shapes, order), also after
    /// a JSON round trip, and the head evaluates on a non-recording graph.
    @Test func lscHeadStructureRoundTrips() throws {
        let head = LocalSimilarityHead(featureDimension: 8, classes: 3, proxiesPerClass: 4, seed: 1)
        head.addRandomClasses(2, seed: 2)
        let decoded = try JSONDecoder().decode(HeadStructure.self, from: JSONEncoder().encode(head.structure))
        #expect(decoded == head.structure)
        let rebuilt = decoded.makeHead()
        #expect(rebuilt.parameters.map(\.name) == head.parameters.map(\.name))
        #expect(rebuilt.parameters.map(\.value.shape) == head.parameters.map(\.value.shape))
        #expect(rebuilt.classCount == 5)
        let g = Graph(engine: engine, recordsGradients: false)
        let logits = head.logits(g, features: g.constant(Tensor(filled: 0.3, shape: [2, 8])))
        #expect(g[logits].shape == [2, 5] && g[logits].floats.allSatisfy { $0.isFinite && $0 <= 0 })
    }

    // MARK: imprinting

    /// Two well-separated groups and K = 2: the centres are the groups' means, in a seeded,
    /// repeatable way; fewer points than centres repeat the points.
    @Test func kMeansFindsSeparatedClustersDeterministically() throws {
        let points: [[Double]] = [[1, 0], [0.9, 0.1], [1.1, -0.1], [-1, 0], [-0.9, 0.1], [-1.1, -0.1]]
        var a = RandomStream(seed: 3, purpose: "test"), b = RandomStream(seed: 3, purpose: "test")
        let centres = try KMeans.centres(of: points, count: 2, stream: &a)
        #expect(try KMeans.centres(of: points, count: 2, stream: &b) == centres)
        let sorted = centres.sorted { $0[0] < $1[0] }
        #expect(abs(sorted[0][0] + 1) < 1e-12 && abs(sorted[1][0] - 1) < 1e-12 && abs(sorted[0][1]) < 1e-12)
        var c = RandomStream(seed: 3, purpose: "test")
        #expect(try KMeans.centres(of: [[1, 0]], count: 3, stream: &c) == [[1, 0], [1, 0], [1, 0]])
    }

    // MARK: settings and protocols

    @Test func settingsAreCheckedAndEveryShippedBlockIsAccepted() throws {
        #expect(throws: MethodError.self) { try MethodRegistry.make("podnet", settings: MethodSettings(["proxies": "10"])) }
        #expect(throws: MethodError.self) { try MethodRegistry.make("podnet", settings: MethodSettings(["imprint_centres": "5"])) }
        #expect(throws: MethodError.self) { try MethodRegistry.make("podnet", settings: MethodSettings(["classifier": "cosine"])) }
        let method = try PODNetCNN(settings: MethodSettings(["fidelity": "corrected"]))
        #expect(method.resolvedSettings["fidelity"] == "corrected" && method.gradientClamp == 5)
        #expect(method.backbone(for: .resnet32) == .podnetResNet32 && method.backbone(for: .resnet18) == .podnetResNet18)
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("protocols").path
        let library = ProtocolLibrary(directory: folder)
        var checked = 0
        for name in try library.names() {
            guard let block = try library.load(name).methods["podnet"] else { continue }
            var values: [String: String] = [:]
            for (key, value) in block.hyperParameters {
                switch value {
                case .string(let text): values[key] = text
                case .list, .null: Issue.record("\(name): podnet.\(key) is \(value)")
                default: values[key] = value.description
                }
            }
            let podnet = try MethodRegistry.make("podnet", settings: MethodSettings(values))
            #expect(podnet.resolvedSettings["proxies_per_class"] == "10", "\(name)")
            checked += 1
        }
        #expect(checked >= 12)
    }

    // MARK: end to end

    static func configuration(aanets: Bool) throws -> RunConfiguration {
        var configuration = try SmokeRuns.configuration()
        if aanets { configuration.aanets = AANetsSettings(alphaLearningRate: 1e-8, balancedPerClass: 5, balancedBatchSize: 32) }
        return configuration
    }

    static func runner(aanets: Bool) throws -> Runner {
        try Runner(configuration: configuration(aanets: aanets), method: MethodRegistry.make("podnet", settings: MethodSettings()), engine: ComputeEngine(threads: 2))
    }

    /// Plain and AANets runs end to end with finite accuracies, old proxies frozen through
    /// training, identical on a rerun; a run resumed from the phase-1 checkpoint ends
    /// bit-identical to the unbroken one.
    @Test func runsEndToEndWithAndWithoutAANetsAndResumes() throws {
        for aanets in [false, true] {
            let witness = FrozenHeadWitness(wrapping: try PODNetCNN(settings: MethodSettings()))
            let first = try Runner(configuration: Self.configuration(aanets: aanets), method: witness, engine: ComputeEngine(threads: 2))
            let records = try first.run()
            print("smoke average incremental accuracy: podnet\(aanets ? "+aanets" : "") CNN \(SmokeRuns.average(records)) (NME \(SmokeRuns.average(records, nme: true)))")
            #expect(records.count == 3)
            #expect(witness.checkedPhases == [1, 2] && witness.changedPhases.isEmpty, "aanets \(aanets): old proxies moved during training")
            #expect(records.allSatisfy { $0.cnnAccuracy.isFinite && ($0.nmeAccuracy ?? .nan).isFinite })
            #expect(first.network?.head is LocalSimilarityHead)
            #expect(first.network?.head.classCount == 10)
            #expect((first.network?.backbone is AANetsBackbone) == aanets)

            let unbroken = try Self.runner(aanets: aanets).run()
            let stopped = try Self.runner(aanets: aanets)
            while stopped.records.count < 2 { _ = try stopped.runNextPhase() }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-podnet-resume-\(aanets)/phase.ckpt")
            let (checkpoint, tensors) = try stopped.checkpoint(runFingerprint: "test")
            try Checkpoint.write(checkpoint, tensors: tensors, to: url)
            let (loaded, values) = try Checkpoint.read(from: url)
            let resumed = try Self.runner(aanets: aanets)
            try resumed.restore(loaded, tensors: values, runFingerprint: "test")
            let resumedRecords = try resumed.run()
            #expect(resumedRecords.map(\.parameterDigest) == unbroken.map(\.parameterDigest), "aanets \(aanets)")
            #expect(resumedRecords.map(\.predictionDigest) == unbroken.map(\.predictionDigest), "aanets \(aanets)")
            #expect(unbroken.map(\.parameterDigest) == records.map(\.parameterDigest), "aanets \(aanets): a rerun is identical")
        }
    }
}
