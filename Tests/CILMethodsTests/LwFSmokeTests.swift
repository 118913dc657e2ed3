import CILHarness
import CILMethods
import Testing

@Suite(.serialized) struct LwFSmokeTests {
    /// LwF.MC keeps no exemplars (no NME), is deterministic, and beats fine-tuning on CNN
    /// average incremental accuracy.
    @Test func beatsFineTuningDeterministically() throws {
        let finetune = try SmokeRuns.finetune.get()
        let lwf = try SmokeRuns.run("lwf")
        print("smoke average incremental accuracy (CNN): lwf \(SmokeRuns.average(lwf)), finetune \(SmokeRuns.average(finetune))")
        #expect(lwf.count == 3 && lwf.allSatisfy { $0.nmeAccuracy == nil })
        #expect(SmokeRuns.average(lwf) > SmokeRuns.average(finetune))
        #expect(try SmokeRuns.run("lwf").map(\.parameterDigest) == lwf.map(\.parameterDigest))
    }

    @Test func settingsAreChecked() throws {
        let kd = try LwF(settings: MethodSettings(["loss": "kd"]))
        #expect(kd.resolvedSettings["loss"] == "kd" && kd.resolvedSettings["kd_weight"] == "3.0" && !kd.usesExemplars)
        #expect(try LwF(settings: MethodSettings()).resolvedSettings["loss"] == "bce")
        #expect(throws: MethodError.self) { try LwF(settings: MethodSettings(["loss": "l2"])) }
        #expect(throws: MethodError.self) { try MethodRegistry.make("lwf", settings: MethodSettings(["lamda": "3"])) }
    }
}
