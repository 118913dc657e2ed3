import CILHarness
import Testing

/// Every expected value below was worked out by hand from the counts written in the test.
@Suite struct MetricsTests {
    // Phase sizes 200/100/100 test images, so sample-weighted and phase-averaged differ.
    //   a = [[80], [60, 90], [50, 40, 80]]
    static func unequal() throws -> AccuracyMatrix {
        try AccuracyMatrix(correct: [[160], [120, 90], [100, 40, 80]], testImages: [200, 100, 100])
    }

    // Four equal phases; base-class accuracy rises after phase 0 before dropping.
    //   a = [[50], [70, 80], [60, 50, 90], [40, 70, 60, 85]]
    static func rising() throws -> AccuracyMatrix {
        try AccuracyMatrix(correct: [[50], [70, 80], [60, 50, 90], [40, 70, 60, 85]], testImages: [100, 100, 100, 100])
    }

    @Test func entriesAndPerPhaseAccuracies() throws {
        let m = try Self.unequal()
        #expect(m.phaseCount == 3 && m.lastPhase == 2)
        #expect(m.accuracy(afterPhase: 2, onClassesOfPhase: 1) == 40)
        // A_1 = (120 + 90) / 300, A_2 = (100 + 40 + 80) / 400.
        #expect(m.accuracyCurve == [80, 70, 55])
        #expect(m.phaseAveragedAccuracy(afterPhase: 1) == 75)
        #expect(abs(m.phaseAveragedAccuracy(afterPhase: 2) - 170.0 / 3) < 1e-12)
        #expect(m.oldClassAccuracy(afterPhase: 0) == nil)
        #expect(m.oldClassAccuracy(afterPhase: 1) == 60)
        #expect(abs(m.oldClassAccuracy(afterPhase: 2)! - 140.0 / 3) < 1e-12)
        #expect(m.newClassAccuracy(afterPhase: 2) == 80)
        #expect(m.forgettingCurve == [80, 60, 50])
    }

    @Test func averageIncrementalAccuracyIncludesPhase0() throws {
        let m = try Self.unequal()
        // (80 + 70 + 55) / 3, not (70 + 55) / 2.
        #expect(abs(m.averageIncrementalAccuracy - 205.0 / 3) < 1e-12)
        // (80 + 75 + 170/3) / 3.
        #expect(abs(m.averageIncrementalAccuracyOfPhaseAverages - (155.0 + 170.0 / 3) / 3) < 1e-12)
        #expect(m.lastPhaseAccuracy == 55)
    }

    @Test func variantsAgreeWhenPhasesAreEqual() throws {
        let m = try Self.rising()
        // A = 50, 75, 200/3, 255/4.
        let expected = (50 + 75 + 200.0 / 3 + 63.75) / 4
        #expect(abs(m.averageIncrementalAccuracy - expected) < 1e-12)
        #expect(abs(m.averageIncrementalAccuracyOfPhaseAverages - expected) < 1e-12)
    }

    @Test func mnemonicsForgettingRateIsPositiveDrop() throws {
        #expect(try Self.unequal().mnemonicsForgettingRate == 30)  // 80 − 50
        #expect(try Self.rising().mnemonicsForgettingRate == 10)   // 50 − 40, not 70 − 40
    }

    @Test func chaudhryForgettingUsesBestEarlierAccuracy() throws {
        let u = try Self.unequal()
        #expect(u.chaudhryForgetting(afterPhase: 0) == nil)
        #expect(u.chaudhryForgetting(afterPhase: 1) == 20)        // 80 − 60
        #expect(u.chaudhryAverageForgetting == 40)                // ((80 − 50) + (90 − 40)) / 2
        let r = try Self.rising()
        // j=0: max(50, 70, 60) − 40 = 30; j=1: max(80, 50) − 70 = 10; j=2: 90 − 60 = 30.
        #expect(abs(r.chaudhryAverageForgetting! - 70.0 / 3) < 1e-12)
    }

    @Test func backwardTransferIsNegativeForForgetting() throws {
        #expect(try Self.unequal().backwardTransfer == -40)       // ((50 − 80) + (40 − 90)) / 2
        // ((40 − 50) + (70 − 80) + (60 − 90)) / 3
        #expect(abs(try Self.rising().backwardTransfer! + 50.0 / 3) < 1e-12)
    }

    @Test func singlePhaseRun() throws {
        let m = try AccuracyMatrix(correct: [[7]], testImages: [10])
        let s = ClassifierMetrics(m)
        #expect(s.averageIncrementalAccuracy == 70 && s.lastPhaseAccuracy == 70)
        #expect(s.mnemonicsForgettingRate == 0)
        #expect(s.chaudhryAverageForgetting == nil && s.backwardTransfer == nil)
    }

    @Test func summaryCarriesEveryMetric() throws {
        let s = ClassifierMetrics(try Self.unequal())
        #expect(s.lastPhaseAccuracy == 55 && s.mnemonicsForgettingRate == 30)
        #expect(s.chaudhryAverageForgetting == 40 && s.backwardTransfer == -40)
    }

    @Test func rejectsMatricesThatCannotDescribeARun() {
        #expect(throws: MetricsError.self) { try AccuracyMatrix(correct: [[1], [1]], testImages: [10, 10]) }
        #expect(throws: MetricsError.self) { try AccuracyMatrix(correct: [[11]], testImages: [10]) }
        #expect(throws: MetricsError.self) { try AccuracyMatrix(correct: [[1]], testImages: [0]) }
        #expect(throws: MetricsError.self) { try AccuracyMatrix(correct: [], testImages: []) }
    }
}
