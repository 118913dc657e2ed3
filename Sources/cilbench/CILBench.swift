// The cilbench command line.
import ArgumentParser

@main
struct CILBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cilbench",
        abstract: "Class-incremental learning benchmarks, reproducible and checkable.",
        subcommands: [DataCommand.self])
}
