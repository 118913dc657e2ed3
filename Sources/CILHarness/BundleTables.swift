import Foundation

/// The human- and tool-readable files of a bundle, rendered from a `RunResult`. Numbers
/// use fixed decimals so the same result always gives the same bytes.
public enum BundleTables {
    static func f4(_ v: Double) -> String { String(format: "%.4f", v) }
    static func f2(_ v: Double) -> String { String(format: "%.2f", v) }
    static func opt4(_ v: Double?) -> String { v.map(f4) ?? "" }

    /// accuracy.csv: per phase, classes seen and CNN/NME accuracy on all seen classes, on old
    /// and new classes, and on the phase-0 classes.
    static func accuracyCSV(_ r: RunResult) -> String {
        var out = "phase,classes_seen,test_images,cnn_accuracy,nme_accuracy,cnn_old_accuracy,cnn_new_accuracy,nme_old_accuracy,nme_new_accuracy,cnn_phase0_class_accuracy,nme_phase0_class_accuracy\n"
        for k in 0..<r.cnn.phaseCount {
            let images = r.cnn.testImages[0...k].reduce(0, +)
            let cells = [String(k), String(r.phases[k].classesSeen), String(images),
                         f4(r.cnn.accuracyOnSeenClasses(afterPhase: k)), opt4(r.nme?.accuracyOnSeenClasses(afterPhase: k)),
                         opt4(r.cnn.oldClassAccuracy(afterPhase: k)), f4(r.cnn.newClassAccuracy(afterPhase: k)),
                         opt4(r.nme?.oldClassAccuracy(afterPhase: k)), opt4(r.nme?.newClassAccuracy(afterPhase: k)),
                         f4(r.cnn.phase0ClassAccuracy(afterPhase: k)), opt4(r.nme?.phase0ClassAccuracy(afterPhase: k))]
            out += cells.joined(separator: ",") + "\n"
        }
        return out
    }

    /// accuracy-matrix.csv: a[k][j] for both classifiers, with the counts it comes from.
    static func matrixCSV(_ r: RunResult) -> String {
        var out = "classifier,after_phase,on_classes_of_phase,accuracy,correct,test_images\n"
        for (name, m) in [("cnn", r.cnn)] + (r.nme.map { [("nme", $0)] } ?? []) {
            for k in 0..<m.phaseCount {
                for j in 0...k {
                    out += "\(name),\(k),\(j),\(f4(m.accuracy(afterPhase: k, onClassesOfPhase: j))),\(m.correct[k][j]),\(m.testImages[j])\n"
                }
            }
        }
        return out
    }

    /// forgetting.csv: per phase, the forgetting curve a[k][0], the Mnemonics drop so far
    /// a[0][0] − a[k][0] and Chaudhry's F_k, for both classifiers.
    static func forgettingCSV(_ r: RunResult) -> String {
        var out = "phase,cnn_phase0_class_accuracy,cnn_mnemonics_forgetting,cnn_chaudhry_forgetting,nme_phase0_class_accuracy,nme_mnemonics_forgetting,nme_chaudhry_forgetting\n"
        for k in 0..<r.cnn.phaseCount {
            var cells = [String(k)]
            for m in [r.cnn, r.nme] {
                cells += [opt4(m?.phase0ClassAccuracy(afterPhase: k)),
                          opt4(m.map { $0.phase0ClassAccuracy(afterPhase: 0) - $0.phase0ClassAccuracy(afterPhase: k) }),
                          opt4(m?.chaudhryForgetting(afterPhase: k))]
            }
            out += cells.joined(separator: ",") + "\n"
        }
        return out
    }

    static func digestsCSV(_ r: RunResult) -> String {
        var out = "phase,parameter_digest,exemplar_digest,prediction_digest\n"
        for p in r.phases {
            out += "\(p.phase),\(hex16(p.parameterDigest)),\(hex16(p.exemplarDigest)),\(hex16(p.predictionDigest))\n"
        }
        return out
    }

    /// summary.md: what `cilbench show` prints.
    public static func summaryMarkdown(_ r: RunResult) -> String {
        let c = r.cnnMetrics, n = r.nmeMetrics
        func opt(_ v: Double?) -> String { v.map(f2) ?? "n/a" }
        var out = """
            # \(r.protocolName) · \(r.methodLabel) · seed \(r.seed)

            - protocol fingerprint: `\(r.protocolFingerprint)`\(r.protocolOverrides.isEmpty ? "" : "\n- overrides: " + r.protocolOverrides.map { "`--set \($0)`" }.joined(separator: " "))
            - cilbench \(r.cilbenchVersion) (\(r.gitRevision)); \(r.environment["cpu_model"] ?? "unknown CPU"), \(r.environment["threads"] ?? "?") threads, oneDNN ISA \(r.environment["onednn_isa"] ?? "?")
            - started \(iso(r.startedAt)), finished \(iso(r.finishedAt)); total phase time \(f2(r.phases.reduce(0) { $0 + $1.wallSeconds })) s

            ## Headline metrics (percent)

            | metric | CNN | NME |
            |---|---|---|
            | average incremental accuracy, N+1 phases incl. phase 0, sample-weighted (AANets Table 1) | \(f2(c.averageIncrementalAccuracy)) | \(opt(n?.averageIncrementalAccuracy)) |
            | average incremental accuracy of phase-averaged accuracies (not the paper's) | \(f2(c.averageIncrementalAccuracyOfPhaseAverages)) | \(opt(n?.averageIncrementalAccuracyOfPhaseAverages)) |
            | last-phase accuracy A_N | \(f2(c.lastPhaseAccuracy)) | \(opt(n?.lastPhaseAccuracy)) |
            | Mnemonics forgetting rate a[0][0] − a[N][0] (positive = forgetting) | \(f2(c.mnemonicsForgettingRate)) | \(opt(n?.mnemonicsForgettingRate)) |
            | Chaudhry average forgetting F_N (positive = forgetting) | \(opt(c.chaudhryAverageForgetting)) | \(opt(n?.chaudhryAverageForgetting)) |
            | backward transfer BWT (negative = forgetting) | \(opt(c.backwardTransfer)) | \(opt(n?.backwardTransfer)) |

            ## Per phase (percent)

            | phase | classes | CNN | NME | CNN old | CNN new | CNN phase-0 classes | NME phase-0 classes | time (s) |
            |---|---|---|---|---|---|---|---|---|

            """
        for k in 0..<r.cnn.phaseCount {
            let cells = [String(k), String(r.phases[k].classesSeen), f2(r.cnn.accuracyOnSeenClasses(afterPhase: k)),
                         opt(r.nme?.accuracyOnSeenClasses(afterPhase: k)), opt(r.cnn.oldClassAccuracy(afterPhase: k)),
                         f2(r.cnn.newClassAccuracy(afterPhase: k)), f2(r.cnn.phase0ClassAccuracy(afterPhase: k)),
                         opt(r.nme?.phase0ClassAccuracy(afterPhase: k)), f2(r.phases[k].wallSeconds)]
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        return out
    }

    static func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
