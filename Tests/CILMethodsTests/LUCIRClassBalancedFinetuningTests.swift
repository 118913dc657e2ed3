import CILHarness
import CILMethods
import Testing

/// Wraps a method unchanged and records, around `afterExemplarSelection`, which parameters
/// the method changed there (by name).
final class AfterSelectionWitness: ForwardingMethod {
    override class var name: String { "after-selection-witness" }
    /// Per phase: names of the parameters whose values changed, and of those whose
    /// trainable flag differs afterwards.
    private(set) var changed: [[String]] = []
    private(set) var flagsChanged: [[String]] = []

    override func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement] {
        let before = network.parameters.map { ($0.name, $0.value.floats, $0.isTrainable) }
        let replacements = try inner.afterExemplarSelection(context, network: network, data: data)
        let after = network.parameters
        changed.append(zip(before, after).filter { $0.0.1 != $0.1.value.floats }.map(\.0.0))
        flagsChanged.append(zip(before, after).filter { $0.0.2 != $0.1.isTrainable }.map(\.0.0))
        return replacements
    }
}

@Suite(.serialized) struct LUCIRClassBalancedFinetuningTests {
    /// [LUCIR] `imagenet-class-incremental/cbf_class_incremental_cosine_imagenet.py`,
    /// `ft_flag` 2: CBF moves every class vector (old blocks too) and nothing else —
    /// no backbone weight, no BN statistic, not σ — only after incremental phases, and
    /// leaves the trainable flags as it found them (old vectors frozen again).
    @Test func finetunesOnlyTheClassVectorsAfterIncrementalPhases() throws {
        let lucir = try LUCIR(settings: MethodSettings(["class_balanced_finetuning": "true", "cbf_epochs": "2", "cbf_batch_size": "16"]))
        let witness = AfterSelectionWitness(wrapping: lucir)
        let (records, network) = try SmokeRuns.run(witness)
        let head = try #require(network.head as? CosineLinearHead)
        #expect(witness.changed.count == 3)
        #expect(witness.changed[0].isEmpty)
        #expect(witness.changed[1] == head.weights.prefix(2).map(\.name))
        #expect(witness.changed[2] == head.weights.map(\.name))
        #expect(witness.flagsChanged.allSatisfy { $0.isEmpty })

        // Phase 0 is untouched; afterwards the finetuned head is what gets scored.
        let plain = try SmokeRuns.run("lucir")
        #expect(records[0].parameterDigest == plain[0].parameterDigest)
        #expect(records[1].parameterDigest != plain[1].parameterDigest)
        print("smoke lucir CNN average: with CBF \(SmokeRuns.average(records)), without \(SmokeRuns.average(plain))")
    }

    @Test func settingsHaveTheCodeDefaults() throws {
        let on = try LUCIR(settings: MethodSettings(["class_balanced_finetuning": "true"])).resolvedSettings
        #expect(on["class_balanced_finetuning"] == "true")
        #expect(on["cbf_epochs"] == "20" && on["cbf_lr"] == "0.01" && on["cbf_milestones"] == "[10]" && on["cbf_gamma"] == "0.1")
        #expect(on["cbf_batch_size"] == "128" && on["cbf_weight_decay"] == "0.0001" && on["cbf_momentum"] == "0.9")
        #expect(on["cbf_steps_at_epoch_start"] == "true")
        #expect(try LUCIR(settings: MethodSettings(["class_balanced_finetuning": "true", "cbf_milestones": "[5, 8]"])).classBalancedFinetuning?.milestones == [5, 8])
        #expect(try LUCIR(settings: MethodSettings()).resolvedSettings["class_balanced_finetuning"] == "false")
        #expect(throws: MethodError.self) { try LUCIR(settings: MethodSettings(["class_balanced_finetuning": "true", "cbf_milestones": "ten"])) }
    }
}
