// CILHarness: everything between a training run and a reader of its results. Protocol
// files (typed, validated, fingerprinted), the CIL metrics under names that cannot be
// confused with one another, the run's result as one value (`RunResult`), compressed
// result bundles that plain `tar --zstd` opens, and the tables and diffs built on them.
//
// Runs with different protocol fingerprints are never compared silently: tables split
// them into separate columns and `diff` reports them as not comparable.
