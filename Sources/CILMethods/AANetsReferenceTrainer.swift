/// How the AANets reference code's trainer for a method treats α's gradient between α steps
/// (README.md, “Choices where the sources are silent”, gotcha G3). The harness applies it under `fidelity: reference`;
/// under `corrected` every method's α steps on the current α batch alone.
public enum ReferenceAlphaGradient: String, Sendable {
    /// Never zeroed: θ-pass and α-pass gradients pile up ([AAN] `incremental_lucir.py`).
    case accumulated
    /// Zeroed before each α batch ([AAN] `incremental_icarl.py` l.108).
    case zeroedEachStep = "zeroed-each-step"
}

/// G3: the LUCIR trainer of [AAN] has no `fusion_optimizer.zero_grad()` (commit c89f277).
/// Declared through `IncrementalMethod.referenceAlphaGradient`, which the runner asks.
extension LUCIR {
    public var referenceAlphaGradient: ReferenceAlphaGradient { .accumulated }
}
