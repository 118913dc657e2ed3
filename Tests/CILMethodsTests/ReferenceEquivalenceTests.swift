import CILHarness
import CILKernels
import CILMethods
import CILNetworks
import Foundation
import Testing

/// Step-by-step equivalence with the official PyTorch code (issue 10). The fixtures come from
/// `Tests/Fixtures/reference/generate.py`, which runs the AANets repository's own model,
/// imprinting, optimiser set-up and train functions (commit and torch version are stamped in
/// the fixture). Here the same networks are built from the same formula weights and the same
/// batches, and trained for the same steps the way the runner does under `fidelity:
/// reference` (method loss → backward → α-gradient bookkeeping → SGD with the runner's
/// groups; after each epoch the α pass in evaluation mode on the balanced batch). Loss terms
/// must agree to 1e-5 relative, parameters, BN statistics and momentum after k steps to
/// 1e-4 relative, α to a few float32 ulps.
@Suite(.serialized) struct ReferenceEquivalenceTests {
    static let lossTolerance = 1e-5
    static let parameterTolerance = 1e-4

    /// The momentum buffer after one step is the step's gradient (+ weight decay) and is
    /// held to 1e-4. After three steps it also holds the third step's gradient, which in
    /// phase 1 the reference itself does not reproduce to 1e-4: perturbing every formula
    /// weight by 1e-7 relative (float32 rounding) moves the reference's own k = 3 momentum
    /// by up to 6.7e-3 (LUCIR) and 1.7e-3 (iCaRL) against 1.1e-5 at k = 1 (README,
    /// "conditioning floor"): the margin-ranking hinge and top-k are not smooth. So k = 3
    /// momentum is held to 1e-2; the parameters it moved are still held to 1e-4.
    static func momentumTolerance(steps: Int) -> Double { steps == 1 ? parameterTolerance : 1e-2 }

    static func fixtureDocument(_ name: String) throws -> [String: Any] { try fixture(name) }

    static func fixture(_ name: String) throws -> [String: Any] {
        guard let all = try ReferenceFixtures.load("lucir-aanets.json")["fixtures"] as? [String: Any], let f = all[name] as? [String: Any] else {
            throw ReferenceFixtures.FixtureError.malformed("fixture \(name) missing from lucir-aanets.json")
        }
        return f
    }

    /// What one scenario measured: worst relative errors by what was compared.
    struct Report: CustomStringConvertible {
        var worst: [String: Double] = [:]
        var offenders: [String: String] = [:]
        mutating func note(_ what: String, _ error: Double, _ name: String = "") {
            if error > (worst[what] ?? -1) || error.isNaN { worst[what] = error; offenders[what] = name }
        }
        var description: String {
            worst.keys.sorted().map { "\($0): \(String(format: "%.2e", worst[$0]!)) \(offenders[$0] ?? "")" }.joined(separator: "; ")
        }
    }

    /// The formula network the reference builds: plain ResNet-32, cosine head over 4 classes.
    static func formulaNetwork(sigma: Double?) -> Network {
        let resnet = ResNet(.resnet32, inputChannels: 3, seed: 1)
        ReferenceFixtures.fillFormula(resnet)
        let head = CosineLinearHead(featureDimension: 64, classes: 4, seed: 1)
        let w = head.weights[0]
        let (lo, hi) = ReferenceFixtures.range("fc.weight", shape: w.value.shape)
        w.value = Tensor(shape: w.value.shape, scalars: ReferenceFixtures.values("fc.weight", count: w.value.count, lo: lo, hi: hi))
        head.sigma?.value = Tensor(filled: sigma ?? 2.5, shape: [1])
        return Network(backbone: resnet, head: head)
    }

    /// The reference name of every cilbench parameter, under the fixture's prefixes.
    static func referenceName(_ name: String, phase: Int) -> String {
        let head = phase == 0 ? ["head.fc0.weight": "fc.weight", "head.sigma": "fc.sigma"]
            : ["head.fc0.weight": "b1.fc.fc1.weight", "head.fc1.weight": "b1.fc.fc2.weight", "head.sigma": "b1.fc.sigma"]
        if let h = head[name] { return h }
        if name.hasPrefix("stable.") { return "b1." + ReferenceFixtures.referenceName(backbone: String(name.dropFirst(7))) }
        if name.hasPrefix("plastic.") { return "b2." + ReferenceFixtures.referenceName(backbone: String(name.dropFirst(8))) }
        return (phase == 0 ? "" : "b1.") + ReferenceFixtures.referenceName(backbone: name)
    }

    /// Compares every cilbench parameter (values, BN buffers, momentum) with the fixture.
    static func compareParameters(_ network: Network, sgd: SGD, fixture: [String: Any], phase: Int, report: inout Report) throws {
        let reference = fixture["parameters"] as? [String: Any] ?? [:]
        var matched = 0
        for p in network.parameters where !p.name.hasPrefix("aggregation.") {
            let name = referenceName(p.name, phase: phase)
            guard let entry = reference[name] as? [String: Any] else {
                Issue.record("no reference entry \(name) for \(p.name)")
                continue
            }
            matched += 1
            let kind = p.group == "buffers" ? "bn statistics" : "parameters"
            let valueError = try ReferenceFixtures.Stats(entry["value"]).worstRelativeError(p.value)
            report.note(kind, valueError, name)
            if ProcessInfo.processInfo.environment["CILBENCH_REFERENCE_VERBOSE"] != nil { print("  \(name) value \(valueError)") }
            if let momentum = entry["momentum"], let v = sgd.velocity[p.name] {
                let e = try ReferenceFixtures.Stats(momentum).worstRelativeError(v)
                if ProcessInfo.processInfo.environment["CILBENCH_REFERENCE_VERBOSE"] != nil { print("  \(name) momentum \(e)") }
                report.note("momentum", e, name)
            } else if entry["momentum"] != nil, p.isTrainable, (p.name != "head.fc0.weight") {
                Issue.record("reference has a momentum buffer for \(name), cilbench none")
            }
        }
        #expect(matched > 100)
    }

    // MARK: Phase 0

    @Test(arguments: [1, 3]) func lucirPhaseZero(steps: Int) throws {
        let fixture = try Self.fixture("lucir-phase0-k\(steps)")
        let engine = try ComputeEngine(threads: 1)
        let network = Self.formulaNetwork(sigma: 1)
        let method = try LUCIR(settings: MethodSettings())
        let context = PhaseContext(phase: 0, phaseCount: 2, oldClasses: 0, newClasses: 4, epochs: 160, exemplarsPerClass: 20, seed: 1, engine: engine)
        let images = ReferenceFixtures.images("batch.phase0", count: 8)
        let labels: [Int32] = [0, 1, 2, 3, 0, 1, 2, 3]
        var sgd = SGD(learningRate: fixture["learning_rate"] as? Double ?? .nan, momentum: 0.9, weightDecay: 5e-4,
                      groups: ["alpha": ParameterGroupSettings(learningRateScale: 0)])
        let losses = fixture["losses"] as? [[String: Double]] ?? []
        var report = Report()
        for step in 0..<steps {
            let g = Graph(engine: engine)
            let loss = try method.loss(g, network: network, batch: TrainingBatch(images: images, labels: labels), context: context)
            report.note("loss ce", ReferenceFixtures.relative(g[loss].scalarValue, losses[step]["ce"] ?? .nan), "step \(step)")
            try g.backward(from: loss)
            if ProcessInfo.processInfo.environment["CILBENCH_REFERENCE_VERBOSE"] != nil, let p = network.parameters.first(where: { $0.name == "stage2.block2.conv2.weight" }) {
                let w = p.value.doubles.reduce(0, +), gs = p.gradient?.doubles.reduce(0, +) ?? .nan
                sgd.step(network.parameters)
                print("  step \(step) grad sum \(gs) buf sum \(sgd.velocity[p.name]?.doubles.reduce(0, +) ?? .nan) w \(w) loss \(g[loss].scalarValue)")
                continue
            }
            sgd.step(network.parameters)
        }
        try Self.compareParameters(network, sgd: sgd, fixture: fixture, phase: 0, report: &report)
        print("reference-equivalence lucir phase0 k=\(steps): \(report)")
        #expect((report.worst["loss ce"] ?? .nan) <= Self.lossTolerance, "\(report)")
        for kind in ["parameters", "bn statistics"] {
            #expect((report.worst[kind] ?? .nan) <= Self.parameterTolerance, "\(kind): \(report)")
        }
        #expect((report.worst["momentum"] ?? .nan) <= Self.momentumTolerance(steps: steps), "momentum: \(report)")
    }

    // MARK: Phase 1

    struct EvaluationFeatures: TrainingFeatureSource {
        let network: Network
        let engine: ComputeEngine
        let byClass: [Int: Tensor]
        func features(ofClass position: Int) throws -> Tensor {
            guard let images = byClass[position] else { throw MethodError.unsupported("no images for class \(position)") }
            let g = Graph(engine: engine, recordsGradients: false)
            return g[try network.forward(g, images: g.constant(images), mode: .evaluation).features.pooled]
        }
    }

    /// Phase 1 of LUCIR (single branch) and LUCIR+AANets, from the formula phase-0 model with
    /// 4 old classes, 2 new classes imprinted from 4 images each, 1 exemplar per old class.
    @Test(arguments: [("lucir-phase1", 1), ("lucir-phase1", 3), ("lucir-aanets-phase1", 1), ("lucir-aanets-phase1", 3),
                      ("lucir-aanets-fastalpha-phase1", 3),
                      ("icarl-phase1", 1), ("icarl-phase1", 3), ("icarl-aanets-phase1", 1), ("icarl-aanets-phase1", 3),
                      ("icarl-aanets-fastalpha-phase1", 3), ("lucir-original-phase1", 1), ("lucir-original-phase1", 3)])
    func phaseOne(label: String, steps: Int) throws {
        let (report, alphaUlps) = try Self.runPhaseOne(label: label, steps: steps, fidelity: .reference)
        print("reference-equivalence \(label) k=\(steps): \(report) alpha-ulps: \(alphaUlps)")
        for kind in ["loss ce", "loss less-forget", "loss margin-ranking", "loss distillation", "loss total", "loss alpha-pass ce", "lambda"] where report.worst[kind] != nil {
            #expect(report.worst[kind]! <= Self.lossTolerance, "\(kind): \(report)")
        }
        for kind in ["imprinted head", "parameters", "bn statistics", "alpha accumulated gradient", "alpha momentum"] where report.worst[kind] != nil {
            #expect(report.worst[kind]! <= Self.parameterTolerance, "\(kind): \(report)")
        }
        #expect((report.worst["momentum"] ?? .nan) <= Self.momentumTolerance(steps: steps), "momentum: \(report)")
        #expect(alphaUlps <= 4, "α differs by \(alphaUlps) float32 ulps")
    }

    /// Under `fidelity: corrected` exactly the documented step-level quirk differs: G3, α's
    /// gradient is the α batch's own instead of the running sum. LUCIR+AANets: the first θ
    /// step (before any α step) still matches, α does not (it moves on other gradients).
    /// iCaRL's reference trainer zeroes α's gradient anyway, so there `corrected` matches the
    /// reference fixture in everything.
    @Test func correctedFidelityDiffersOnlyByG3() throws {
        let (lucir, lucirAlphaUlps) = try Self.runPhaseOne(label: "lucir-aanets-fastalpha-phase1", steps: 3, fidelity: .corrected)
        print("reference-equivalence corrected lucir-aanets-fastalpha-phase1 k=3: \(lucir) alpha-ulps: \(lucirAlphaUlps)")
        #expect(lucirAlphaUlps > 1000, "G3 must move α away from the reference's accumulated-gradient α")
        #expect((lucir.worst["loss total step 0"] ?? .nan) <= Self.lossTolerance)
        let (icarl, icarlAlphaUlps) = try Self.runPhaseOne(label: "icarl-aanets-fastalpha-phase1", steps: 3, fidelity: .corrected)
        #expect(icarlAlphaUlps <= 4)
        #expect((icarl.worst["parameters"] ?? .nan) <= Self.parameterTolerance)
    }

    static func runPhaseOne(label: String, steps: Int, fidelity: Fidelity) throws -> (Report, Int) {
        let fixture = try Self.fixture("\(label)-k\(steps)")
        let aanets = fixture["aanets"] as? Bool ?? false
        let isICaRL = fixture["method"] as? String == "icarl"
        let engine = try ComputeEngine(threads: 1)
        let network = Self.formulaNetwork(sigma: nil)
        let method: any IncrementalMethod = isICaRL ? try ICaRL(settings: MethodSettings()) : try LUCIR(settings: MethodSettings())
        let context = PhaseContext(phase: 1, phaseCount: 2, oldClasses: 4, newClasses: 2, epochs: 160, exemplarsPerClass: 20, seed: 1, engine: engine)
        let newImages = ReferenceFixtures.images("batch.phase1.new", count: 8)
        let exemplars = ReferenceFixtures.images("batch.phase1.exemplars", count: 4)
        let trainImages = ReferenceFixtures.concatenate(newImages, exemplars)
        let trainLabels: [Int32] = [4, 4, 4, 4, 5, 5, 5, 5, 0, 1, 2, 3]
        let balancedImages = ReferenceFixtures.concatenate(ReferenceFixtures.images("batch.phase1.new", count: 8, picking: [0, 5, 5, 2]), exemplars)
        let balancedLabels: [Int32] = [4, 5, 5, 4, 0, 1, 2, 3]
        var report = Report()

        // The teacher LUCIR snapshots, the imprinting, then AANets' branches (Runner order).
        let teacher = Teacher(snapshotOf: network)
        let byClass = [4: ReferenceFixtures.images("batch.phase1.new", count: 8, picking: [0, 1, 2, 3]),
                       5: ReferenceFixtures.images("batch.phase1.new", count: 8, picking: [4, 5, 6, 7])]
        try method.beginPhase(context, network: network, newClassFeatures: EvaluationFeatures(network: network, engine: engine, byClass: byClass))
        guard let head = network.head as? CosineLinearHead else { throw MethodError.unsupported("cosine head expected") }
        report.note("imprinted head", try ReferenceFixtures.Stats(fixture["imprinted"]).worstRelativeError(head.weights[1].value))
        var dual: AANetsBackbone?
        if aanets, let plain = network.backbone as? ResNet {
            dual = AANetsBackbone(phaseZero: plain, initialAlpha: 0.5)
            network.backbone = dual!
        }
        let lambda = LUCIR.adaptiveLambda(base: 5, oldClasses: 4, newClasses: 2)
        if !isICaRL { report.note("lambda", ReferenceFixtures.relative(lambda, fixture["lambda"] as? Double ?? .nan)) }

        var sgd = SGD(learningRate: fixture["learning_rate"] as? Double ?? .nan, momentum: 0.9, weightDecay: 5e-4,
                      groups: ["alpha": ParameterGroupSettings(learningRateScale: 0)])
        var alphaSGD = SGD(learningRate: fixture["fusion_lr"] as? Double ?? .nan, momentum: 0.9, weightDecay: 5e-4)
        // As Runner.accumulatesAlphaGradient under `fidelity: reference` (G3).
        var alphaGradient = AlphaGradient(accumulates: fidelity == .reference && method.referenceAlphaGradient == .accumulated)
        let losses = fixture["losses"] as? [[String: Double]] ?? []
        let batch = TrainingBatch(images: trainImages, labels: trainLabels)
        for step in 0..<steps {
            // Loss terms from the same functions the method's loss uses, with BN statistics
            // restored afterwards so the measured step below sees them untouched.
            let buffers = network.parameters.filter { $0.group == "buffers" }
            let saved = buffers.map(\.value)
            do {
                let g = Graph(engine: engine, recordsGradients: false)
                let features = try network.backbone.features(g, g.constant(trainImages), mode: .training).pooled
                let scores = cosineScores(g, head: head, features: features)
                let ce = g[g.crossEntropy(scores.logits, labels: trainLabels)].scalarValue
                let ref = losses[step]
                report.note("loss ce", ReferenceFixtures.relative(ce, ref["ce"] ?? .nan), "step \(step)")
                let teacherOutputs = try teacher.outputs(trainImages, engine: engine)
                if isICaRL {
                    let kd = g[ICaRL.distillation(g, logits: scores.logits, teacherLogits: teacherOutputs.logits, temperature: 2, beta: 0.25)].scalarValue
                    // The KL (≈1e-3) is a mean of differences of nearly equal float32
                    // log-probabilities (≈1): its rounding floor is ~1e-7 absolute per element,
                    // so the comparison is relative to max(|KL|, 1e-2) (i.e. 1e-7 absolute).
                    let reference = 2 * 2 * 0.25 * 4 * (ref["kl_raw"] ?? .nan)
                    report.note("loss distillation", abs(kd - reference) / max(abs(reference), 1e-2 * 2 * 2 * 0.25 * 4), "step \(step)")
                } else {
                    let lf = g[LUCIR.lessForget(g, features: features, teacherFeatures: teacherOutputs.pooled, lambda: lambda)].scalarValue
                    let mr = try LUCIR.marginRanking(g, cosines: scores.cosines, labels: trainLabels, oldClasses: 4, hardNegatives: 2, margin: 0.5).map { g[$0].scalarValue } ?? 0
                    report.note("loss less-forget", ReferenceFixtures.relative(lf, lambda * (ref["lf_raw"] ?? .nan)), "step \(step)")
                    report.note("loss margin-ranking", ReferenceFixtures.relative(mr, ref["mr_raw"] ?? .nan), "step \(step)")
                }
            }
            for (p, v) in zip(buffers, saved) { p.value = v }

            let g = Graph(engine: engine)
            let loss = try method.loss(g, network: network, batch: batch, context: context)
            let ref = losses[step]
            let total = isICaRL ? (ref["ce"] ?? .nan) + 2 * 2 * 0.25 * 4 * (ref["kl_raw"] ?? .nan)
                : (ref["ce"] ?? .nan) + lambda * (ref["lf_raw"] ?? .nan) + (ref["mr_raw"] ?? .nan)
            report.note("loss total", ReferenceFixtures.relative(g[loss].scalarValue, total), "step \(step)")
            if step == 0 { report.note("loss total step 0", ReferenceFixtures.relative(g[loss].scalarValue, total)) }
            try g.backward(from: loss)
            if let dual { alphaGradient.absorbTrainingGradient(dual.alphas) }
            sgd.step(network.parameters)

            // The α pass after each epoch (here one balanced batch), as Runner.alphaPass.
            if let dual {
                let parameters = network.parameters
                let trainable = parameters.map(\.isTrainable)
                for p in parameters { p.isTrainable = dual.alphas.contains { $0 === p } }
                let ga = Graph(engine: engine)
                let out = try network.forward(ga, images: ga.constant(balancedImages), mode: .evaluation)
                let alphaLoss = ga.crossEntropy(out.logits, labels: balancedLabels)
                report.note("loss alpha-pass ce", ReferenceFixtures.relative(ga[alphaLoss].scalarValue, ref["alpha_ce"] ?? .nan), "step \(step)")
                try ga.backward(from: alphaLoss)
                alphaGradient.step(dual.alphas, optimizer: &alphaSGD)
                for (p, t) in zip(parameters, trainable) { p.isTrainable = t }
            }
        }
        try Self.compareParameters(network, sgd: sgd, fixture: fixture, phase: 1, report: &report)
        var alphaUlps = 0
        if let dual {
            let alphas = fixture["alphas"] as? [Double] ?? []
            let grads = fixture["alpha_grads"] as? [Double] ?? []
            let momenta = fixture["alpha_momentum"] as? [Double] ?? []
            for (k, a) in dual.alphas.enumerated() {
                alphaUlps = max(alphaUlps, ReferenceFixtures.ulps(a.value.scalarValue, alphas[k]))
                if fidelity == .reference && alphaGradient.accumulates {
                    report.note("alpha accumulated gradient", abs((alphaGradient.sum?[k] ?? .nan) - grads[k]) / max(abs(grads[k]), 1e-3), "alpha\(k + 1)")
                }
                if let v = alphaSGD.velocity[a.name] {
                    report.note("alpha momentum", abs(v.scalarValue - momenta[k]) / max(abs(momenta[k]), 1e-3), "alpha\(k + 1)")
                }
            }
        }
        return (report, alphaUlps)
    }
}

/// The learning-rate schedules over a whole phase, network and α, as the protocol files make
/// `cilbench run` use them, against the reference's own schedulers stepped at the start of
/// each epoch (G4) ([AAN] `base_trainer.py` l.676-683; fixture `schedules`).
@Suite struct ReferenceScheduleTests {
    static let protocols = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("protocols")

    @Test(arguments: [("cifar100", "cifar100-b50-5.yaml"), ("imagenet_sub", "imagenet-subset-b50-5.yaml")])
    func phaseSchedules(dataset: String, protocolFile: String) throws {
        let document = try ReferenceFixtures.load("lucir-aanets.json")
        guard let fixtures = document["fixtures"] as? [String: Any], let schedules = fixtures["schedules"] as? [String: Any],
              let reference = schedules[dataset] as? [String: Any], let rates = reference["rates"] as? [Double],
              let alphaRates = reference["alpha_rates"] as? [Double] else {
            throw ReferenceFixtures.FixtureError.malformed("schedules.\(dataset)")
        }
        let file = try CILProtocol.load(file: Self.protocols.appendingPathComponent(protocolFile).path)
        let training = file.settings(forMethod: "lucir").training
        let alphaLR = file.methods["aanets"]?.hyperParameters["alpha_lr"]?.doubleValue ?? .nan
        #expect(training.incrementalEpochs == rates.count)
        let alphaSchedule = training.schedule.alphaLearningRateSchedule(epochs: training.incrementalEpochs)
        var worst = 0.0, worstAlpha = 0.0
        for epoch in 0..<rates.count {
            let lr = training.learningRate(phase: 1, epoch: epoch)
            let alpha = alphaSchedule.learningRate(base: alphaLR, epoch: epoch, steppedAtEpochStart: training.schedule.stepsAtEpochStart)
            // torch's chainable cosine form differs from the closed form in the last bits.
            worst = max(worst, abs(lr - rates[epoch]) / (reference["base_lr"] as? Double ?? 1))
            worstAlpha = max(worstAlpha, abs(alpha - alphaRates[epoch]) / (reference["alpha_base_lr"] as? Double ?? 1))
        }
        print("reference-equivalence schedule \(dataset): network \(worst), alpha \(worstAlpha)")
        #expect(worst <= 1e-12 && worstAlpha <= 1e-12, "network \(worst), α \(worstAlpha)")
    }
}

/// Herding and the NME class means against the reference's `set_exemplar_set`
/// ([AAN] `base_trainer.py` l.816-981): at the end of phase 0 with the formula model, 4
/// classes of 30 formula images, 5 exemplars each (fixture `herding`).
@Suite struct ReferenceHerdingTests {
    static func herding() throws -> [String: Any] {
        let document = try ReferenceFixtures.load("lucir-aanets.json")
        guard let fixtures = document["fixtures"] as? [String: Any], let h = fixtures["herding"] as? [String: Any] else {
            throw ReferenceFixtures.FixtureError.malformed("herding")
        }
        return h
    }

    /// Herding on the reference's own feature matrix (class 0): the same indices in the same order.
    @Test func herdingOnTheReferenceFeatureMatrix() throws {
        let h = try Self.herding()
        let rows = h["class0_features"] as? [[Double]] ?? []
        let ranks = h["ranks"] as? [[Int]] ?? []
        let features = Tensor(shape: [rows.count, rows.first?.count ?? 0], scalars: rows.flatMap { $0 })
        #expect(Herding.rank(features, count: h["exemplars_per_class"] as? Int ?? 0) == ranks.first)
    }

    /// From images: cilbench's features of the same images, herding, and both class means
    /// (exemplars with the channel-reversed second view, G1; and all images).
    @Test func herdingAndClassMeansFromImages() throws {
        let h = try Self.herding()
        let engine = try ComputeEngine(threads: 1)
        let network = ReferenceEquivalenceTests.formulaNetwork(sigma: nil)
        let ranks = h["ranks"] as? [[Int]] ?? []
        let exemplarMeans = h["class_means_exemplars"] as? [[Double]] ?? []
        let allMeans = h["class_means_all"] as? [[Double]] ?? []
        var worst = 0.0
        for c in 0..<4 {
            let original = ReferenceFixtures.images("herding.class\(c)", count: 30)
            let reversed = ReferenceFixtures.images("herding.class\(c)", count: 30, channelReversed: true)
            func features(_ images: Tensor) throws -> Tensor {
                let g = Graph(engine: engine, recordsGradients: false)
                return g[try network.forward(g, images: g.constant(images), mode: .evaluation).features.pooled]
            }
            let f = try features(original), fr = try features(reversed)
            let selected = Herding.rank(f, count: 5)
            #expect(selected == ranks[c], "class \(c)")
            let means = ClassMeanViews.means([f, fr], groups: [selected, Array(0..<30)]).doubles
            for k in 0..<64 {
                worst = max(worst, abs(means[k] - exemplarMeans[c][k]), abs(means[64 + k] - allMeans[c][k]))
            }
        }
        print("reference-equivalence herding: class means worst abs error \(worst) (unit vectors)")
        #expect(worst <= 1e-5)
    }

    /// G1 is the only difference `corrected` makes to the class means: the harness picks the
    /// channel-reversed second view under `reference` (matching the fixture above) and the
    /// mirror image under `corrected`, whose means then differ from the reference's.
    @Test func correctedClassMeansDifferOnlyByG1() throws {
        #expect(ClassMeanViews.forPreprocessing(.lucirCIFAR, fidelity: .reference) == .withChannelReversed)
        #expect(ClassMeanViews.forPreprocessing(.lucirCIFAR, fidelity: .corrected) == .withHorizontalFlip)
        let h = try Self.herding()
        let engine = try ComputeEngine(threads: 1)
        let network = ReferenceEquivalenceTests.formulaNetwork(sigma: nil)
        let ranks = h["ranks"] as? [[Int]] ?? []
        let exemplarMeans = h["class_means_exemplars"] as? [[Double]] ?? []
        func features(_ images: Tensor) throws -> Tensor {
            let g = Graph(engine: engine, recordsGradients: false)
            return g[try network.forward(g, images: g.constant(images), mode: .evaluation).features.pooled]
        }
        let f = try features(ReferenceFixtures.images("herding.class0", count: 30))
        let mirrored = try features(ReferenceFixtures.images("herding.class0", count: 30, horizontallyFlipped: true))
        #expect(Herding.rank(f, count: 5) == ranks[0], "herding uses the original view under both fidelities")
        let means = ClassMeanViews.means([f, mirrored], groups: [ranks[0]]).doubles
        let difference = zip(means, exemplarMeans[0]).map { abs($0 - $1) }.max() ?? 0
        print("reference-equivalence corrected class means (mirror view): worst abs difference \(difference)")
        #expect(difference > 1e-4)
    }
}

/// LUCIR's class-balanced finetuning against the original LUCIR code's own
/// `incremental_train_and_eval_MR_LF` with `fix_bn=True` and the `ft_flag` 2 optimiser of
/// [LUCIR] `imagenet-class-incremental/cbf_class_incremental_cosine_imagenet.py` (fixture
/// `lucir-cbf-phase1-k3`): the phase-1 LUCIR model right after imprinting, 3 epochs over
/// one exemplar batch, through `LUCIR.afterExemplarSelection` as the runner calls it.
@Suite struct ReferenceClassBalancedFinetuningTests {
    /// The exemplar set as one batch, in the fixture's order.
    final class OneBatch: PhaseData, TrainingBatchSource {
        let batch: TrainingBatch
        var served = false
        init(_ batch: TrainingBatch) { self.batch = batch }
        var exemplars: [[Int]] { [Array(0..<batch.labels.count)] }
        func trainingIndices(ofClass position: Int) throws -> [Int] { [] }
        func batches(indices: [Int], batchSize: Int, purpose: String, epoch: Int, shuffle: Bool) throws -> any TrainingBatchSource {
            served = false
            return self
        }
        func next() throws -> TrainingBatch? {
            defer { served = true }
            return served ? nil : batch
        }
        func images(at indices: [Int]) throws -> Tensor { batch.images }
        func storedImages(for replacement: ImageReplacement) throws -> Tensor { replacement.images }
    }

    @Test func classBalancedFinetuningMatchesTheOriginalLUCIR() throws {
        let fixture = try ReferenceEquivalenceTests.fixture("lucir-cbf-phase1-k3")
        let engine = try ComputeEngine(threads: 1)
        let network = ReferenceEquivalenceTests.formulaNetwork(sigma: nil)
        let method = try LUCIR(settings: MethodSettings(["class_balanced_finetuning": "true", "cbf_epochs": "3", "cbf_batch_size": "8"]))
        let context = PhaseContext(phase: 1, phaseCount: 2, oldClasses: 4, newClasses: 2, epochs: 160, exemplarsPerClass: 20, seed: 1, engine: engine)
        let byClass = [4: ReferenceFixtures.images("batch.phase1.new", count: 8, picking: [0, 1, 2, 3]),
                       5: ReferenceFixtures.images("batch.phase1.new", count: 8, picking: [4, 5, 6, 7])]
        try method.beginPhase(context, network: network, newClassFeatures: ReferenceEquivalenceTests.EvaluationFeatures(network: network, engine: engine, byClass: byClass))
        let images = ReferenceFixtures.concatenate(ReferenceFixtures.images("batch.phase1.new", count: 8, picking: [0, 1, 4, 5]),
                                                   ReferenceFixtures.images("batch.phase1.exemplars", count: 4))
        let labels: [Int32] = [4, 4, 5, 5, 0, 1, 2, 3]
        try method.afterExemplarSelection(context, network: network, data: OneBatch(TrainingBatch(images: images, labels: labels)))
        var report = ReferenceEquivalenceTests.Report()
        let reference = fixture["parameters"] as? [String: Any] ?? [:]
        for p in network.parameters {
            let name = ReferenceEquivalenceTests.referenceName(p.name, phase: 1)
            guard let entry = reference[name] as? [String: Any] else { Issue.record("no reference entry \(name)"); continue }
            report.note(p.name.hasPrefix("head.") ? "head" : (p.group == "buffers" ? "bn statistics" : "backbone"),
                        try ReferenceFixtures.Stats(entry["value"]).worstRelativeError(p.value), name)
        }
        print("reference-equivalence lucir-cbf-phase1 k=3: \(report)")
        for kind in ["head", "backbone", "bn statistics"] {
            #expect((report.worst[kind] ?? .nan) <= ReferenceEquivalenceTests.parameterTolerance, "\(kind): \(report)")
        }
    }
}

/// LwF against two third-party references, each through its own training code: PyCIL's KD
/// form (`loss: kd`; [PyCIL] `models/lwf.py` `LwF._update_representation` l.145-200;
/// fixtures `lwf-kd-phase1-k{1,3}`) and LwF.MC, the iCaRL paper's sigmoid binary
/// cross-entropy and cilbench's default (`loss: bce`; [MAM] `models/lwf_mc.py`
/// `LwFMC.observe` and `get_loss`; fixtures `lwf-mc-phase{0,1}-k{1,3}`). Phase 0 trains the
/// formula ResNet-32 with a linear head over 4 classes on the 8 phase-0 images; phase 1
/// starts from it (4 old classes, 2 new rows from the formula) on the 8 new-class images
/// with no exemplars. SGD lr 0.1, momentum 0.9, weight decay 2e-4 on both sides.
@Suite struct ReferenceLwFTests {
    /// PyCIL wraps the reference ResNet-32's children in a Sequential: conv1 → backbone.0,
    /// bn1 → backbone.1, layer1..3 → backbone.3..5; the linear head is `fc`. The generator
    /// builds the Mammoth network the same way.
    static func pycilName(_ name: String) -> String {
        if name == "head.weight" { return "fc.weight" }
        if name == "head.bias" { return "fc.bias" }
        let reference = ReferenceFixtures.referenceName(backbone: name)
        for (from, to) in [("conv1.", "backbone.0."), ("bn1.", "backbone.1."), ("layer1.", "backbone.3."), ("layer2.", "backbone.4."), ("layer3.", "backbone.5.")]
        where reference.hasPrefix(from) {
            return to + reference.dropFirst(from.count)
        }
        return reference
    }

    @Test(arguments: [1, 3]) func lwfKnowledgeDistillationMatchesPyCIL(steps: Int) throws {
        let fixture = try ReferenceEquivalenceTests.fixture("lwf-kd-phase1-k\(steps)")
        let lamda = fixture["lamda"] as? Double ?? .nan
        try Self.compare(fixture, method: try LwF(settings: MethodSettings(["loss": "kd"])), phase: 1, steps: steps,
                         label: "lwf-kd-phase1 k=\(steps)") { ($0["ce_new"] ?? .nan) + lamda * ($0["kd"] ?? .nan) }
    }

    /// In phase 0 the one-hot BCE gradient of this 8-image batch is ill-conditioned: a 1e-7
    /// relative perturbation of every formula weight moves the reference's own momentum
    /// buffers by up to 1.3e-3 (k = 1) and 3.2e-3 (k = 3) (Tests/Fixtures/reference/README.md,
    /// "conditioning floor"), so phase-0 momentum is held to 1e-2, as k = 3 elsewhere.
    @Test(arguments: [0, 1], [1, 3]) func lwfMultiClassMatchesMammoth(phase: Int, steps: Int) throws {
        let fixture = try ReferenceEquivalenceTests.fixture("lwf-mc-phase\(phase)-k\(steps)")
        let method = try LwF(settings: MethodSettings([:]))
        #expect(method.lossKind == .bce, "LwF.MC is the default")
        try Self.compare(fixture, method: method, phase: phase, steps: steps, label: "lwf-mc-phase\(phase) k=\(steps)",
                         momentumTolerance: phase == 0 ? 1e-2 : ReferenceEquivalenceTests.momentumTolerance(steps: steps)) { $0["bce"] ?? .nan }
    }

    /// Runs `steps` steps of `method` from the formula network as the fixture's reference did,
    /// checking each step's loss against `referenceLoss` of the fixture's logged terms, then
    /// every parameter, BN statistic and momentum buffer.
    static func compare(_ fixture: [String: Any], method: LwF, phase: Int, steps: Int, label: String,
                        momentumTolerance: Double? = nil, referenceLoss: ([String: Double]) -> Double) throws {
        let engine = try ComputeEngine(threads: 1)
        let resnet = ResNet(.resnet32, inputChannels: 3, seed: 1)
        ReferenceFixtures.fillFormula(resnet)
        let weights = ReferenceFixtures.values("linear.weight", count: 6 * 64, lo: -0.125, hi: 0.125)
        let biases = ReferenceFixtures.values("linear.bias", count: 6, lo: -0.125, hi: 0.125)
        let network = Network(backbone: resnet, head: method.makeHead(featureDimension: 64, classes: 4, seed: 1))
        func setHead(_ classes: Int) {
            for p in network.head.parameters {
                p.value = p.name == "head.weight" ? Tensor(shape: [classes, 64], scalars: Array(weights.prefix(classes * 64)))
                    : Tensor(shape: [classes], scalars: Array(biases.prefix(classes)))
            }
        }
        setHead(4)
        let context: PhaseContext
        let batch: TrainingBatch
        if phase == 0 {
            context = PhaseContext(phase: 0, phaseCount: 2, oldClasses: 0, newClasses: 4, epochs: 250, exemplarsPerClass: 0, seed: 1, engine: engine)
            batch = TrainingBatch(images: ReferenceFixtures.images("batch.phase0", count: 8), labels: [0, 1, 2, 3, 0, 1, 2, 3])
        } else {
            context = PhaseContext(phase: 1, phaseCount: 2, oldClasses: 4, newClasses: 2, epochs: 250, exemplarsPerClass: 0, seed: 1, engine: engine)
            try method.beginPhase(context, network: network, newClassFeatures: ReferenceEquivalenceTests.EvaluationFeatures(network: network, engine: engine, byClass: [:]))
            setHead(6)   // the references' new rows are random; both sides take them from the formula
            batch = TrainingBatch(images: ReferenceFixtures.images("batch.phase1.new", count: 8), labels: [4, 4, 4, 4, 5, 5, 5, 5])
        }
        var sgd = SGD(learningRate: fixture["learning_rate"] as? Double ?? .nan, momentum: 0.9, weightDecay: fixture["weight_decay"] as? Double ?? .nan,
                      groups: ["alpha": ParameterGroupSettings(learningRateScale: 0)])
        let losses = fixture["losses"] as? [[String: Double]] ?? []
        #expect(losses.count == steps)
        var report = ReferenceEquivalenceTests.Report()
        for step in 0..<min(steps, losses.count) {
            let g = Graph(engine: engine)
            let loss = try method.loss(g, network: network, batch: batch, context: context)
            report.note("loss total", ReferenceFixtures.relative(g[loss].scalarValue, referenceLoss(losses[step])), "step \(step)")
            try g.backward(from: loss)
            sgd.step(network.parameters)
        }
        let reference = fixture["parameters"] as? [String: Any] ?? [:]
        for p in network.parameters {
            let name = pycilName(p.name)
            guard let entry = reference[name] as? [String: Any] else { Issue.record("no reference entry \(name) for \(p.name)"); continue }
            report.note(p.group == "buffers" ? "bn statistics" : "parameters", try ReferenceFixtures.Stats(entry["value"]).worstRelativeError(p.value), name)
            if let momentum = entry["momentum"], let v = sgd.velocity[p.name] {
                report.note("momentum", try ReferenceFixtures.Stats(momentum).worstRelativeError(v), name)
            }
        }
        print("reference-equivalence \(label): \(report)")
        #expect((report.worst["loss total"] ?? .nan) <= ReferenceEquivalenceTests.lossTolerance, "\(report)")
        for kind in ["parameters", "bn statistics"] {
            #expect((report.worst[kind] ?? .nan) <= ReferenceEquivalenceTests.parameterTolerance, "\(kind): \(report)")
        }
        #expect((report.worst["momentum"] ?? .nan) <= momentumTolerance ?? ReferenceEquivalenceTests.momentumTolerance(steps: steps), "momentum: \(report)")
    }
}

/// PODNet's losses against the official functions (fixture `podnet-losses`): POD-spatial
/// ([POD] `inclearn/lib/losses/distillation.py` `pod`, collapse "spatial", normalised) over
/// three maps, and NCA ([POD] `inclearn/lib/losses/base.py` `nca`, margin 0.6, learned scale,
/// positive excluded from the denominator, G8): values and gradients. PODNet's training loop
/// itself is not run (see Tests/Fixtures/reference/README.md).
@Suite struct ReferencePODNetLossTests {
    static func podnet() throws -> [String: Any] {
        try ReferenceEquivalenceTests.fixtureDocument("podnet-losses")
    }

    /// NCHW formula values as an NHWC tensor (cilbench's map layout), and back.
    static func nhwc(_ values: [Float], _ s: [Int]) -> Tensor {
        let (b, c, h, w) = (s[0], s[1], s[2], s[3])
        var out = [Float](repeating: 0, count: values.count)
        for n in 0..<b { for k in 0..<c { for y in 0..<h { for x in 0..<w {
            out[((n * h + y) * w + x) * c + k] = values[((n * c + k) * h + y) * w + x]
        } } } }
        return Tensor(shape: [b, h, w, c], scalars: out, layout: .nhwc)
    }

    @Test func podSpatialMatchesTheOfficialFunction() throws {
        let f = try Self.podnet()
        let shapes = f["shapes"] as? [[Int]] ?? []
        let grads = f["spatial_grads"] as? [[Double]] ?? []
        let engine = try ComputeEngine(threads: 1)
        let g = Graph(engine: engine)
        var students: [Parameter] = [], teachers: [Tensor] = []
        for (i, s) in shapes.enumerated() {
            let n = s.reduce(1, *)
            students.append(Parameter(name: "student\(i)", value: Self.nhwc(ReferenceFixtures.values("pod.student\(i)", count: n, lo: -1, hi: 1), s)))
            teachers.append(Self.nhwc(ReferenceFixtures.values("pod.teacher\(i)", count: n, lo: -1, hi: 1), s))
        }
        let loss = try PODDistillation.spatial(g, student: students.map { g.parameter($0) }, teacher: teachers)
        try g.backward(from: loss)
        let valueError = ReferenceFixtures.relative(g[loss].scalarValue, f["spatial"] as? Double ?? .nan)
        var gradientError = 0.0
        for (i, s) in shapes.enumerated() {
            let reference = Self.nhwc(grads[i].map { Float($0) }, s).doubles
            let mine = students[i].gradient?.doubles ?? []
            let rms = (reference.reduce(0) { $0 + $1 * $1 } / Double(max(reference.count, 1))).squareRoot()
            for (a, b) in zip(mine, reference) { gradientError = max(gradientError, abs(a - b) / max(abs(b), rms)) }
            #expect(mine.count == reference.count)
        }
        print("reference-equivalence podnet pod-spatial: value \(valueError), gradient \(gradientError)")
        #expect(valueError <= ReferenceEquivalenceTests.lossTolerance && gradientError <= ReferenceEquivalenceTests.parameterTolerance)
    }

    @Test func ncaMatchesTheOfficialFunction() throws {
        let f = try Self.podnet()
        let engine = try ComputeEngine(threads: 1)
        let g = Graph(engine: engine)
        let scores = Parameter(name: "scores", value: Tensor(shape: [6, 5], scalars: ReferenceFixtures.values("nca.scores", count: 30, lo: -2, hi: 0)))
        let scale = Parameter(name: "scale", value: Tensor(shape: [1], scalars: [Float(f["nca_scale"] as? Double ?? .nan)]))
        let labels = (f["nca_targets"] as? [Int] ?? []).map { Int32($0) }
        let loss = g.ncaLoss(g.parameter(scores), scale: g.parameter(scale), labels: labels, margin: f["nca_margin"] as? Double ?? .nan, form: .reference)
        try g.backward(from: loss)
        let valueError = ReferenceFixtures.relative(g[loss].scalarValue, f["nca"] as? Double ?? .nan)
        let reference = f["nca_score_grads"] as? [Double] ?? []
        let mine = scores.gradient?.doubles ?? []
        let rms = (reference.reduce(0) { $0 + $1 * $1 } / Double(max(reference.count, 1))).squareRoot()
        var gradientError = zip(mine, reference).map { abs($0 - $1) / max(abs($1), rms) }.max() ?? .infinity
        gradientError = max(gradientError, ReferenceFixtures.relative(scale.gradient?.scalarValue ?? .nan, f["nca_scale_grad"] as? Double ?? .nan))
        print("reference-equivalence podnet nca: value \(valueError), gradient \(gradientError)")
        #expect(valueError <= ReferenceEquivalenceTests.lossTolerance && gradientError <= ReferenceEquivalenceTests.parameterTolerance)
    }
}

/// PODNet's CIFAR ResNet-32 against PODNet's own network class ([POD]
/// `inclearn/convnet/my_resnet.py` `resnet_rebuffi`, the `convnet: rebuffi` of its CIFAR
/// configs; fixture `podnet-cifar-backbone`): every parameter and BN buffer from the formula
/// under PODNet's names, one training-mode forward of the 8 phase-0 images, then backward of
/// Σ pooled ⊙ v. Compared: the four attention maps (POD's inputs and POD-AANets' levels),
/// the pre-ReLU pooled feature (`raw_features`, what PODNet's classifier reads), every
/// gradient and the BN running statistics the forward updated.
@Suite struct ReferencePODNetBackboneTests {
    /// cilbench's names (LUCIR layout once `referenceName` has mapped them) to PODNet's:
    /// conv1/bn1 → conv_1_3x3/bn_1; layerS.B.{conv1,bn1,conv2,bn2} →
    /// stage_S.blocks.B.{conv_a,bn_a,conv_b,bn_b}; the single-block stage 4 is `stage_4`.
    static func podnetName(_ name: String) -> String {
        var parts = ReferenceFixtures.referenceName(backbone: name).split(separator: ".").map(String.init)
        switch parts.first {
        case "conv1": parts[0] = "conv_1_3x3"; return parts.joined(separator: ".")
        case "bn1": parts[0] = "bn_1"; return parts.joined(separator: ".")
        default: break
        }
        guard parts.count >= 4, parts[0].hasPrefix("layer") else { return name }
        let stage = parts[0].dropFirst(5), block = parts[1]
        let layer = ["conv1": "conv_a", "conv2": "conv_b", "bn1": "bn_a", "bn2": "bn_b"][parts[2]] ?? parts[2]
        let prefix = stage == "4" ? "stage_4" : "stage_\(stage).blocks.\(block)"
        return ([prefix, layer] + parts[3...]).joined(separator: ".")
    }

    /// The residual branch's last BN (`bn_b`) is drawn as the LUCIR layout's `bn2`: small γ.
    @Test func cifarBackboneMatchesPODNet() throws {
        try ReferenceBackbones.compare("podnet-cifar-backbone", .podnetResNet32, images: ReferenceFixtures.images("batch.phase0", count: 8),
                                       probe: "podnet.probe", pooledKey: "raw_features", referenceName: Self.podnetName,
                                       rangeName: { $0.replacingOccurrences(of: "bn_b.", with: "bn2.") })
    }
}

/// The two ImageNet ResNet-18s against their references' own network classes, each with
/// formula weights under the reference's names, one training-mode forward and backward of
/// Σ pooled ⊙ v; compared: the pooled feature, the stage maps where the reference returns
/// them, every backbone gradient and the BN running statistics the forward updated.
/// - LUCIR/AANets ([AAN] `models/modified_resnet.py` `resnet18`: 7×7/2 stem and max-pool,
///   no ReLU after the last block; fixture `resnet18-imagenet-backbone`): 2 images at
///   224×224, since its `AvgPool2d(7)` needs 7×7 maps.
/// - PODNet ([POD] `inclearn/convnet/resnet.py` `resnet18(nf=64)`: 3×3 stride-1 stem, no
///   ReLU after a stage's last block; fixture `podnet-imagenet-backbone`): 4 images at 32×32
///   (adaptive pooling), its four attention maps and pre-ReLU `raw_features`.
@Suite struct ReferenceResNet18Tests {
    @Test func aanetsImageNetBackboneMatchesTheReference() throws {
        try ReferenceBackbones.compare("resnet18-imagenet-backbone", .resnet18, images: ReferenceFixtures.images("batch.imagenet", count: 2, size: 224),
                                       probe: "resnet18.probe", pooledKey: "pooled")
    }

    @Test func podnetImageNetBackboneMatchesPODNet() throws {
        try ReferenceBackbones.compare("podnet-imagenet-backbone", .podnetResNet18, images: ReferenceFixtures.images("batch.phase0", count: 8, picking: [0, 1, 2, 3]),
                                       probe: "podnet18.probe", pooledKey: "raw_features")
    }
}

/// The backbone check the PODNet CIFAR and the two ResNet-18 suites run.
enum ReferenceBackbones {
    /// `layerN.blockB…` (cilbench's ResNet-18s) → the references' torchvision-style
    /// `layerN.B…`, through the ResNet-32 mapping (`stageN.blockB` is the same shape of name).
    static func referenceName(_ name: String) -> String {
        guard name.hasPrefix("layer") else { return ReferenceFixtures.referenceName(backbone: name) }
        return ReferenceFixtures.referenceName(backbone: "stage" + name.dropFirst(5))
    }

    /// One backbone check (shared with PODNet's CIFAR ResNet-32): fill from the formula under
    /// `referenceName` (ranges by `rangeName` of it), forward, probe backward, compare.
    static func compare(_ fixtureName: String, _ architecture: ResNetArchitecture, images: Tensor, probe probeName: String, pooledKey: String,
                        referenceName: (String) -> String = referenceName, rangeName: (String) -> String = { $0 }) throws {
        let fixture = try ReferenceEquivalenceTests.fixture(fixtureName)
        let engine = try ComputeEngine(threads: 1)
        let resnet = ResNet(architecture, inputChannels: 3, seed: 1)
        for p in resnet.parameters {
            let name = referenceName(p.name)
            let (lo, hi) = ReferenceFixtures.range(rangeName(name), shape: p.value.shape)
            p.value = Tensor(shape: p.value.shape, scalars: ReferenceFixtures.values(name, count: p.value.count, lo: lo, hi: hi), layout: p.value.layout)
        }
        let g = Graph(engine: engine)
        let features = try resnet.features(g, g.constant(images), mode: .training)
        let batch = images.shape[0], width = resnet.featureDimension
        let probe = Tensor(shape: [batch, width], scalars: ReferenceFixtures.values(probeName, count: batch * width, lo: -1, hi: 1))
        try g.backward(from: g.sum(g.multiply(features.pooled, g.constant(probe))))

        var report = ReferenceEquivalenceTests.Report()
        report.note("pooled features", try ReferenceFixtures.Stats(fixture[pooledKey]).worstRelativeError(g[features.pooled]), pooledKey)
        if let attention = fixture["attention"] as? [Any] {
            #expect(features.stages.count == attention.count)
            for (k, (map, reference)) in zip(features.stages, attention).enumerated() {
                report.note("stage maps", try ReferenceFixtures.Stats(reference).worstRelativeError(g[map]), "stage \(k + 1)")
            }
        }
        let gradients = fixture["gradients"] as? [String: Any] ?? [:], buffers = fixture["buffers"] as? [String: Any] ?? [:]
        var trained: Set<String> = []
        for p in resnet.parameters {
            let name = referenceName(p.name)
            if p.group == "buffers" {
                report.note("bn statistics", try ReferenceFixtures.Stats(buffers[name]).worstRelativeError(p.value), name)
            } else {
                trained.insert(name)
                guard let gradient = p.gradient else { Issue.record("no gradient for \(p.name)"); continue }
                report.note("gradients", try ReferenceFixtures.Stats(gradients[name]).worstRelativeError(gradient), name)
            }
        }
        #expect(trained == Set(gradients.keys), "the same trainable backbone parameters as the reference")
        print("reference-equivalence \(fixtureName): \(report)")
        for kind in ["pooled features", "stage maps", "gradients", "bn statistics"] where report.worst[kind] != nil || kind != "stage maps" {
            #expect((report.worst[kind] ?? .nan) <= ReferenceEquivalenceTests.parameterTolerance, "\(kind): \(report)")
        }
    }
}
