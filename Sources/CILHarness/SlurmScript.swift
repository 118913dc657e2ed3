import Foundation

/// The sbatch script of a grid: one self-contained file a user can read, edit and submit
/// (`bash <script>` submits it; `cilbench grid slurm --submit` does the same). Two job
/// arrays over the grid's cell indices: first the cells whose phase 0 others reuse, then the
/// rest, depending on the first (`afterany`: a failed producer does not block the others,
/// which then train phase 0 themselves). Every task runs `cilbench grid cell <grid> --index
/// $SLURM_ARRAY_TASK_ID`; tasks are requeueable, and Slurm signals a task a few minutes
/// before its time limit so it stops (its finished phases are in its checkpoint) and
/// requeues itself to continue from there.
public struct SlurmScript: Sendable {
    public struct Options: Sendable {
        public var partition: String?
        public var time: String?
        public var cpusPerTask: Int
        public var memory: String?
        public var maxParallel: Int
        public var account: String?
        public var extra: [String]
        /// Seconds before the time limit at which the task is told to stop and requeue.
        public var signalLead: Int
        /// Absolute paths: the cilbench executable, the grid file, the output, the protocol
        /// folder and the data root.
        public var executable: String
        public var gridPath: String
        public var out: String
        public var protocols: String
        public var dataRoot: String?

        public init(partition: String?, time: String?, cpusPerTask: Int, memory: String?, maxParallel: Int, account: String?, extra: [String],
                    signalLead: Int = 300, executable: String, gridPath: String, out: String, protocols: String, dataRoot: String?) {
            self.partition = partition
            self.time = time
            self.cpusPerTask = cpusPerTask
            self.memory = memory
            self.maxParallel = maxParallel
            self.account = account
            self.extra = extra
            self.signalLead = signalLead
            self.executable = executable
            self.gridPath = gridPath
            self.out = out
            self.protocols = protocols
            self.dataRoot = dataRoot
        }
    }

    public let plan: GridPlan
    public let options: Options
    /// Total CPU-hours and the longest cell's wall hours, for the header (nil: not estimated).
    public let estimate: (cpuHours: Double, longestCellHours: Double, longestPhaseHours: Double)?

    public init(plan: GridPlan, options: Options, estimate: (cpuHours: Double, longestCellHours: Double, longestPhaseHours: Double)?) throws(GridError) {
        self.plan = plan
        self.options = options
        self.estimate = estimate
        let file = plan.grid.sourcePath
        if let time = options.time, Self.seconds(ofSlurmTime: time) == nil {
            throw GridError(file: file, line: nil, message: "--time '\(time)' is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED)")
        }
        guard options.cpusPerTask >= 1 else { throw GridError(file: file, line: nil, message: "--cpus-per-task must be at least 1") }
        guard options.maxParallel >= 1 else { throw GridError(file: file, line: nil, message: "--max-parallel must be at least 1") }
        if let memory = options.memory, memory.range(of: #"^[0-9]+[KMGT]?$"#, options: .regularExpression) == nil {
            throw GridError(file: file, line: nil, message: "--mem '\(memory)' is not a Slurm memory size (a number with K, M, G or T)")
        }
        for option in options.extra where !option.hasPrefix("--") || option.contains("\n") {
            throw GridError(file: file, line: nil, message: "--extra '\(option)' is not one sbatch option (e.g. --extra '--qos=long')")
        }
        for name in [options.partition, options.account].compactMap({ $0 }) where name.isEmpty || name.contains(where: { $0.isWhitespace || $0 == "'" || $0 == "\"" }) {
            throw GridError(file: file, line: nil, message: "'\(name)' is not a partition or account name")
        }
        // Slurm's default MaxArraySize is 1001 (indices 0-1000).
        guard plan.cells.count <= 1001 else {
            throw GridError(file: file, line: nil, message: "the grid has \(plan.cells.count) cells; Slurm's default MaxArraySize allows array indices up to 1000, split the grid")
        }
    }

    /// Seconds of a Slurm time limit (`--time`), nil when Slurm would reject it, 0 for none.
    public static func seconds(ofSlurmTime text: String) -> Int? {
        if ["UNLIMITED", "INFINITE", "unlimited", "infinite"].contains(text) { return 0 }
        var days = 0
        var rest = Substring(text)
        if let dash = rest.firstIndex(of: "-") {
            guard let d = Int(rest[..<dash]), d >= 0 else { return nil }
            days = d
            rest = rest[rest.index(after: dash)...]
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
            let p = parts.map { $0! }
            return days * 86400 + p[0] * 3600 + (p.count > 1 ? p[1] * 60 : 0) + (p.count > 2 ? p[2] : 0)
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        let p = parts.map { $0! }
        switch p.count {
        case 1: return p[0] * 60
        case 2: return p[0] * 60 + p[1]
        default: return p[0] * 3600 + p[1] * 60 + p[2]
        }
    }

    /// `0,2-5,9`: Slurm's array syntax for a sorted list of indices.
    public static func arraySpec(_ indices: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        let sorted = indices.sorted()
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// The folder the task logs go to: `<out>/.grid/<grid name>`.
    public var logFolder: String { "\(options.out)/.grid/\(plan.grid.name)" }

    public var producerArray: String { Self.arraySpec(plan.producers) }
    public var followerArray: String { Self.arraySpec(plan.followers) }

    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    public var text: String {
        let o = options
        let grid = plan.grid
        var lines = ["#!/bin/bash"]
        lines.append("# cilbench grid '\(grid.name)': \(plan.cells.count) cells, \(plan.producers.count) of them phase-0 producers that run first.")
        if let e = estimate {
            lines.append("# Estimate: \(String(format: "%.1f", e.cpuHours)) CPU-hours in total; the longest cell \(String(format: "%.1f", e.longestCellHours)) h, its longest phase \(String(format: "%.1f", e.longestPhaseHours)) h, on \(o.cpusPerTask) CPUs.")
        }
        lines += [
            "# Written by `cilbench grid slurm`. Submit with `bash <this file>` (or `cilbench grid slurm ... --submit`);",
            "# watch with `cilbench grid status \(o.gridPath) --out \(o.out)`; tabulate with `cilbench grid table`.",
            "# A task stopped by the time limit, preemption or scancel+requeue continues from its last finished",
            "# phase; a phase longer than --time never finishes, so keep --time above the longest phase.",
            "#SBATCH --job-name=cilbench-\(grid.name)",
            "#SBATCH --cpus-per-task=\(o.cpusPerTask)",
            "#SBATCH --ntasks=1",
        ]
        if let time = o.time { lines.append("#SBATCH --time=\(time)") }
        if let memory = o.memory { lines.append("#SBATCH --mem=\(memory)") }
        if let partition = o.partition { lines.append("#SBATCH --partition=\(partition)") }
        if let account = o.account { lines.append("#SBATCH --account=\(account)") }
        lines += [
            "#SBATCH --requeue",
            "#SBATCH --signal=B:USR1@\(o.signalLead)",
            "#SBATCH --open-mode=append",
            "#SBATCH --output=\(logFolder)/slurm-%A_%a.log",
        ]
        lines += o.extra.map { "#SBATCH \($0)" }
        var cellCommand = "\"$cilbench\" grid cell \"$grid\" --index \"$SLURM_ARRAY_TASK_ID\" --out \"$out\" --threads \(o.cpusPerTask) --protocols \"$protocols\""
        if o.dataRoot != nil { cellCommand += " --data-root \"$data_root\"" }
        lines += [
            "set -u",
            "cilbench=\(Self.quoted(o.executable))",
            "grid=\(Self.quoted(o.gridPath))",
            "out=\(Self.quoted(o.out))",
            "protocols=\(Self.quoted(o.protocols))",
        ]
        if let root = o.dataRoot { lines.append("data_root=\(Self.quoted(root))") }
        lines += [
            "producers='\(producerArray)'   # cells whose phase 0 the others reuse",
            "cells='\(followerArray)'",
            "max_parallel=\(o.maxParallel)",
            "",
            "if [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then",
            "  # Not inside Slurm: submit the two arrays, the second after the first.",
            "  mkdir -p \(Self.quoted(logFolder)) || exit 1",
            "  after=''",
            "  if [ -n \"$producers\" ]; then",
            "    first=$(sbatch --parsable --array=\"$producers%$max_parallel\" \"$0\") || exit 1",
            "    first=${first%%;*}",
            "    echo \"phase-0 producers: job $first (cells $producers)\"",
            "    after=\"--dependency=afterany:$first\"",
            "  fi",
            "  if [ -n \"$cells\" ]; then",
            "    second=$(sbatch --parsable $after --array=\"$cells%$max_parallel\" \"$0\") || exit 1",
            "    echo \"cells: job ${second%%;*} (cells $cells)\"",
            "  fi",
            "  exit 0",
            "fi",
            "",
            "export OMP_NUM_THREADS=\(o.cpusPerTask) OMP_WAIT_POLICY=passive",
            cellCommand + " &",
            "child=$!",
            "stop_and_requeue() {",
            "  echo \"cilbench grid: the time limit is near; stopping cell $SLURM_ARRAY_TASK_ID and requeueing it (it resumes after its last finished phase)\"",
            "  kill -TERM \"$child\" 2>/dev/null",
            "  wait \"$child\"",
            "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"",
            "  exit 0",
            "}",
            "trap stop_and_requeue USR1",
            "wait \"$child\"",
            "exit $?",
            "",
        ]
        return lines.joined(separator: "\n")
    }
}
