// The cilbench command line: one subcommand per user task, each in its own file.
import ArgumentParser

@main
struct CILBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cilbench",
        abstract: "Class-incremental learning benchmarks, reproducible and checkable.",
        subcommands: [BenchCommand.self, DataCommand.self, ShowCommand.self, TableCommand.self, DiffCommand.self, ProtocolsCommand.self])
}
