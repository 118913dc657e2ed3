import CILNetworks
import Testing

@Suite struct OptimizerTests {
    /// PyTorch SGD by hand: p=1, g=0.5, lr 0.1, μ 0.9, λ 0.01 → d=0.51, v=0.51, p=0.949;
    /// second step with the same g: d=0.5+0.00949=0.50949, v=0.9·0.51+0.50949=0.96849, p=0.949−0.096849.
    @Test func sgdMatchesHandComputedSteps() {
        let p = Parameter(name: "w", value: Tensor(shape: [1], scalars: [1.0]))
        var sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        p.gradient = Tensor(shape: [1], scalars: [0.5])
        sgd.step([p])
        #expect(abs(p.value.scalarValue - 0.949) < 1e-12)
        #expect(p.gradient == nil)
        p.gradient = Tensor(shape: [1], scalars: [0.5])
        sgd.step([p])
        #expect(abs(p.value.scalarValue - (0.949 - 0.1 * (0.9 * 0.51 + 0.5 + 0.01 * 0.949))) < 1e-12)
    }

    @Test func frozenGroupsAndFrozenParametersDoNotMove() {
        let old = Parameter(name: "old", value: Tensor(shape: [2], scalars: [1.0, 2.0]), group: "head.old")
        let frozen = Parameter(name: "frozen", value: Tensor(shape: [1], scalars: [3.0]), isTrainable: false)
        var sgd = SGD(learningRate: 0.1, groups: ["head.old": ParameterGroupSettings(learningRateScale: 0)])
        old.gradient = Tensor(shape: [2], scalars: [1.0, 1.0])
        frozen.gradient = Tensor(shape: [1], scalars: [1.0])
        sgd.step([old, frozen])
        #expect(old.value.doubles == [1.0, 2.0] && frozen.value.doubles == [3.0])
    }

    @Test func schedulesFollowTheReferenceCode() {
        let multi = LearningRateSchedule.multiStep(milestones: [80, 120], gamma: 0.1)
        #expect(multi.learningRate(base: 0.1, epoch: 79) == 0.1)
        #expect(abs(multi.learningRate(base: 0.1, epoch: 80) - 0.01) < 1e-15)
        // G4: stepping at the start of the epoch moves the decay one epoch early.
        #expect(abs(multi.learningRate(base: 0.1, epoch: 79, steppedAtEpochStart: true) - 0.01) < 1e-15)
        let cosine = LearningRateSchedule.cosine(totalEpochs: 90, minimum: 0)
        #expect(cosine.learningRate(base: 0.1, epoch: 0) == 0.1)
        #expect(abs(cosine.learningRate(base: 0.1, epoch: 45) - 0.05) < 1e-12)
        #expect(abs(cosine.learningRate(base: 0.1, epoch: 89, steppedAtEpochStart: true)) < 1e-15)
    }
}
