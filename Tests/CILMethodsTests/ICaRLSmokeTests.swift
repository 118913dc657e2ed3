import CILHarness
import CILMethods
import Testing

@Suite(.serialized) struct ICaRLSmokeTests {
    /// iCaRL reports NME, which must beat fine-tuning's CNN average; runs are deterministic
    /// and the old class vectors stay frozen.
    @Test func beatsFineTuningDeterministically() throws {
        let finetune = try SmokeRuns.finetune.get()
        let witness = FrozenHeadWitness(wrapping: try ICaRL(settings: MethodSettings()))
        let icarl = try SmokeRuns.run(witness).records
        print("smoke average incremental accuracy: icarl NME \(SmokeRuns.average(icarl, nme: true)) (CNN \(SmokeRuns.average(icarl))), finetune CNN \(SmokeRuns.average(finetune))")
        #expect(SmokeRuns.average(icarl, nme: true) > SmokeRuns.average(finetune))
        #expect(witness.checkedPhases == [1, 2] && witness.changedPhases.isEmpty)
        #expect(try SmokeRuns.run("icarl").map(\.parameterDigest) == icarl.map(\.parameterDigest))
        #expect(try ICaRL(settings: MethodSettings()).resolvedSettings["classifier"] == "nme")
    }
}
