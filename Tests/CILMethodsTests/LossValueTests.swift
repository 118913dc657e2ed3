import CILMethods
import Testing

/// Hand-computed values of each method's loss on tiny float64 inputs (LwF, iCaRL,
/// LUCIR; formulas and code sources in each method's doc comment).
@Suite struct LossValueTests {
    let engine = try! ComputeEngine(threads: 1)

    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool { abs(a - b) <= tolerance }

    /// Three samples, classes 0-1 old and 2-4 new. Sample 0 (class 0): s_y = 0.9, top-2 new
    /// 0.5 and 0.45 → hinges 0.1, 0.05. Sample 1 is new: skipped. Sample 2 (class 1): s_y = 0.4,
    /// top-2 new 0.7 and 0.6 → hinges 0.8, 0.7. Mean over |H|·K = 4 pairs: 1.65/4 = 0.4125.
    @Test func lucirMarginRanking() throws {
        let g = Graph(engine: engine)
        let cosines = g.variable(Tensor(shape: [3, 5], scalars: [0.9, 0.1, 0.5, 0.3, 0.45,
                                                                 0.0, 0.2, 0.9, 0.8, 0.1,
                                                                 0.2, 0.4, 0.6, 0.7, -0.1]))
        let loss = try #require(try LUCIR.marginRanking(g, cosines: cosines, labels: [0, 3, 1], oldClasses: 2, hardNegatives: 2, margin: 0.5))
        #expect(close(g[loss].scalarValue, 0.4125))
        // Every pair is active: −1/4 to each s_y per pair, +1/4 to each chosen negative.
        try g.backward(from: loss)
        let expected: [Double] = [-0.5, 0, 0.25, 0, 0.25,
                                  0, 0, 0, 0, 0,
                                  0, -0.5, 0.25, 0.25, 0]
        #expect(zip(g.gradient(of: cosines)!.doubles, expected).allSatisfy { close($0, $1) })
    }

    /// Inactive pairs (s_y far above the negatives) count in the mean but add nothing, and a
    /// batch without old-class samples has no margin term (the code's zero loss).
    @Test func lucirMarginRankingEdges() throws {
        let g = Graph(engine: engine)
        let cosines = g.variable(Tensor(shape: [2, 4], scalars: [1.0, 0.0, 0.2, 0.6,
                                                                 0.1, 0.9, 0.2, 0.3]))
        let loss = try #require(try LUCIR.marginRanking(g, cosines: cosines, labels: [0, 1], oldClasses: 2, hardNegatives: 2, margin: 0.5))
        // Sample 0: 0.5 − 1 + 0.6 = 0.1, 0.5 − 1 + 0.2 < 0. Sample 1: 0.5 − 0.9 + 0.3 < 0 twice.
        #expect(close(g[loss].scalarValue, 0.1 / 4))
        #expect(try LUCIR.marginRanking(g, cosines: cosines, labels: [2, 3], oldClasses: 2, hardNegatives: 2, margin: 0.5) == nil)
        #expect(throws: MethodError.self) { try LUCIR.marginRanking(g, cosines: cosines, labels: [0, 1], oldClasses: 2, hardNegatives: 3, margin: 0.5) }
    }

    /// f = [(1,0), (0,2)], f* = [(1,1), (0,1)]: cosines 1/√2 and 1, so with λ = 2 the loss is
    /// 2·(1 − 1/√2)/2 = 1 − 1/√2; features' norms play no part.
    @Test func lucirLessForget() {
        let g = Graph(engine: engine)
        let loss = LUCIR.lessForget(g, features: g.variable(Tensor(shape: [2, 2], scalars: [1.0, 0, 0, 2])),
                                    teacherFeatures: Tensor(shape: [2, 2], scalars: [1.0, 1, 0, 1]), lambda: 2)
        #expect(close(g[loss].scalarValue, 1 - 1 / 2.0.squareRoot()))
    }

    @Test func lucirAdaptiveLambda() throws {
        #expect(close(LUCIR.adaptiveLambda(base: 5, oldClasses: 50, newClasses: 10), 5 * 5.0.squareRoot()))
        #expect(close(LUCIR.adaptiveLambda(base: 5, oldClasses: 4, newClasses: 3), 5 * (4.0 / 3).squareRoot()))
        let lucir = try LUCIR(settings: MethodSettings())
        #expect(lucir.resolvedSettings["lambda_base"] == "5.0" && lucir.hardNegatives == 2 && lucir.margin == 0.5)
        // Class-balanced finetuning is offered (LUCIRClassBalancedFinetuningTests); unfrozen old vectors are not.
        #expect(try LUCIR(settings: MethodSettings(["class_balanced_finetuning": "true"])).classBalancedFinetuning != nil)
        #expect(throws: MethodError.self) { try LUCIR(settings: MethodSettings(["freeze_old_head": "false"])) }
    }

    /// Student old logits (1, 2), teacher (0, 2), T = 2: KL(softmax(0,1) ‖ softmax(0.5,1)) =
    /// 0.0263445859769, times β·T² = 0.25·4 = 1. The new-class logit (0) is not distilled.
    @Test func icarlDistillation() {
        let g = Graph(engine: engine)
        let loss = ICaRL.distillation(g, logits: g.variable(Tensor(shape: [1, 3], scalars: [1.0, 2, 0])),
                                      teacherLogits: Tensor(shape: [1, 2], scalars: [0.0, 2]), temperature: 2, beta: 0.25)
        #expect(close(g[loss].scalarValue, 0.026344585976886367))
    }

    /// Logits (2, −1, 0.5), label 2, teacher logits (0.3, −0.2): targets (σ(0.3), σ(−0.2), 1),
    /// mean BCE over the three entries = 0.738515883935.
    @Test func lwfBinaryCrossEntropy() throws {
        let g = Graph(engine: engine)
        let loss = try LwF.binaryCrossEntropy(g, logits: g.variable(Tensor(shape: [1, 3], scalars: [2.0, -1, 0.5])), labels: [2],
                                              teacherLogits: Tensor(shape: [1, 2], scalars: [0.3, -0.2]))
        #expect(close(g[loss].scalarValue, 0.7385158839351688))
    }

    /// Logits (1, 2 | 0.5, −0.5), label 3: CE over the new logits with label 1 = 1.31326168752;
    /// KD_2 of (1, 2) against teacher (0, 1) = 0.662847318579; total 1.313… + 3·0.662… .
    @Test func lwfKnowledgeDistillation() throws {
        let g = Graph(engine: engine)
        let loss = try LwF.knowledgeDistillation(g, logits: g.variable(Tensor(shape: [1, 4], scalars: [1.0, 2, 0.5, -0.5])), labels: [3],
                                                 teacherLogits: Tensor(shape: [1, 2], scalars: [0.0, 1]), temperature: 2, weight: 3)
        #expect(close(g[loss].scalarValue, 3.301803643255761))
        #expect(throws: MethodError.self) {
            try LwF.knowledgeDistillation(g, logits: g.variable(Tensor(shape: [1, 4], scalars: [1.0, 2, 0.5, -0.5])), labels: [0],
                                          teacherLogits: Tensor(shape: [1, 2], scalars: [0.0, 1]), temperature: 2, weight: 3)
        }
    }
}
