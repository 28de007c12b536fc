import Foundation

/// Runs an experiment's grid on several threads, one run per task, and writes
///
///     DIR/experiment.json    the resolved spec, toolkit version, git commit, shard
///     DIR/parts/run-N.*.csv  each finished run, written whole (temporary name, then rename)
///     DIR/trajectories.csv   run_id + the train CSV columns, runs in grid order
///     DIR/summary.csv        one row per run: parameters, final values, cost counters, wall seconds
///
/// The part files make a sweep restartable: an interrupted sweep leaves only whole files, and `resume`
/// runs just the runs without a part; the assembled CSVs are rebuilt from the parts in run order, so they
/// equal those of an uninterrupted sweep row for row (wall_seconds, the last summary column, aside).
/// Output does not depend on the thread count: every run has its own seeded generators.
public struct SweepRunner: Sendable {
    public struct Options: Sendable {
        public var threads: Int
        /// Run only runs whose index is congruent to `index` modulo `count`.
        public var shard: (index: Int, count: Int)?
        public var resume: Bool
        public var force: Bool
        public var version: String
        public var gitCommit: String?
        /// Refuse grids of more runs (counted before the grid is built).
        public var maxRuns: Int
        /// Bytes the assembled trajectories may take (estimated before any run).
        public var maxOutput = Limits.defaultMaxOutput
        /// The exact solver's memory limit (`NewtonSolver.memoryLimit`).
        public var maxMemory = Limits.defaultMaxMemory

        public init(threads: Int, shard: (index: Int, count: Int)? = nil, resume: Bool = false, force: Bool = false,
                    version: String, gitCommit: String? = nil, maxRuns: Int = Limits.defaultMaxRuns) {
            self.maxRuns = maxRuns
            self.threads = threads
            self.shard = shard
            self.resume = resume
            self.force = force
            self.version = version
            self.gitCommit = gitCommit
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let spec: ExperimentSpec
    public let directory: String
    public let options: Options
    /// The whole grid, computed once.
    public let allRuns: [ExperimentSpec.Run]

    public init(spec: ExperimentSpec, directory: String, options: Options) throws {
        self.spec = spec
        self.directory = directory
        self.options = options
        do { allRuns = try spec.runs(maxRuns: options.maxRuns) } catch {
            throw Failure(description: "\(error.flag) \(error.message)")
        }
    }

    var partsDirectory: String { (directory as NSString).appendingPathComponent("parts") }
    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    static func partName(_ id: Int, _ kind: String) -> String { String(format: "run-%07d.%@.csv", id, kind) }

    /// The runs this invocation owns (its shard), before skipping finished ones.
    public var ownedRuns: [ExperimentSpec.Run] {
        guard let shard = options.shard else { return allRuns }
        return allRuns.filter { $0.id % shard.count == shard.index }
    }

    /// What `prepare` found: the loaded instances and the runs still to do.
    public struct Plan: Sendable {
        public var problems: [Problem]
        public var runs: [ExperimentSpec.Run]
        /// The largest instance dimension: the number of theta columns.
        public var dimension: Int { problems.map(\.dimension).max() ?? 0 }
        /// The output directory's lock, held until the plan is dropped.
        let lock: DirectoryLock
    }

    /// Loads every instance and checks every run against it, then takes the directory (an exclusive lock
    /// held by the plan), checks it and writes experiment.json. Throws before touching the directory when an
    /// instance or a run is bad, and before any run starts when the directory holds another experiment,
    /// files that are not a sweep's, or a sweep without --resume/--force; --resume also refuses when an
    /// instance file changed since the sweep began.
    public func prepare() throws -> Plan {
        var problems: [Problem] = []
        var hashes: [String] = []
        for file in spec.instances {
            do {
                problems.append(try Problem.load(path: file))
                hashes.append(try ContentHash.of(path: file))
            } catch {
                throw Failure(description: error.description)
            }
        }
        let dimension = problems.map(\.dimension).max() ?? 0
        for (file, problem) in zip(spec.instances, problems) {
            do { _ = try Limits.solverMode(dimension: problem.dimension, forms: problem.linearFormCount, limit: options.maxMemory) } catch {
                throw Failure(description: "\(file): --max-memory \(error.message)")
            }
        }
        var rows = 0
        for run in ownedRuns {
            let (sum, overflow) = rows.addingReportingOverflow(run.spec.record.maximumRows(steps: run.spec.maximumSteps))
            rows = overflow ? Int.max : sum
        }
        do { try Limits.checkOutput(bytes: Limits.trajectoryBytes(rows: rows, dimension: dimension), limit: options.maxOutput) } catch {
            throw Failure(description: "\(error.flag) \(error.message)")
        }
        for run in ownedRuns {
            let problem = problems[run.instance]
            do { try run.spec.validate(dimension: problem.dimension, featureBound: problem.featureBound, beta: problem.beta) } catch {
                throw Failure(description: "run \(run.id) (\(spec.instances[run.instance])): \(error)")
            }
        }
        let fm = FileManager.default
        if options.resume, !fm.fileExists(atPath: path("experiment.json")) {
            throw Failure(description: "\(directory): holds no sweep to resume (no experiment.json)")
        }
        let lock = try Self.claim(directory)
        let manifestPath = path("experiment.json")
        if fm.fileExists(atPath: manifestPath) {
            if options.resume {
                let stored = try Manifest.read(manifestPath)
                guard stored.spec == spec else {
                    throw Failure(description: "\(manifestPath): holds a different experiment; --resume needs the same spec")
                }
                if let changed = zip(spec.instances, zip(stored.instanceHashes, hashes)).first(where: { $0.1.0 != $0.1.1 }) {
                    throw Failure(description: "\(changed.0): changed since the sweep began; --resume would mix results (start over with --force)")
                }
                guard stored.dimension == dimension else {
                    throw Failure(description: "\(manifestPath): was made with instances of another dimension; --resume needs the same instances")
                }
                guard stored.shard == shardText else {
                    throw Failure(description: "\(manifestPath): was shard \(stored.shard ?? "none"), not \(shardText ?? "none")")
                }
                // Parts of another version (other columns) would be mixed under this version's header:
                // refused before the manifest is rewritten or any run is done again.
                let finished = Set((try? fm.contentsOfDirectory(atPath: partsDirectory)) ?? [])
                let width = RunTable.summary(dimension: dimension).columns.count
                for run in ownedRuns where finished.contains(Self.partName(run.id, "summary")) {
                    let file = partPath(run.id, "summary")
                    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                        throw Failure(description: "\(file): unreadable; start over with --force")
                    }
                    try Self.checkWidth(text, width, file)
                }
                // Temporaries of an interrupted process (the run without a summary part is done again).
                OutputCleanup.removeStaleTemporaries(in: directory)
                OutputCleanup.removeStaleTemporaries(in: partsDirectory)
            } else if options.force {
                // Only a sweep's own directory is wiped: its experiment.json must be a sweep manifest.
                _ = try Manifest.read(manifestPath)
                for name in (try? fm.contentsOfDirectory(atPath: partsDirectory)) ?? [] {
                    try? fm.removeItem(atPath: (partsDirectory as NSString).appendingPathComponent(name))
                }
            } else {
                throw Failure(description: "\(directory): already holds a sweep (pass --resume to finish it or --force to start over)")
            }
        } else if options.resume {
            throw Failure(description: "\(directory): holds no sweep to resume (no experiment.json)")
        }
        do {
            try fm.createDirectory(atPath: partsDirectory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "\(directory): cannot create the parts directory")
        }
        let manifest = Manifest(spec: spec, version: options.version, gitCommit: options.gitCommit, runs: allRuns.count,
                                shard: shardText, dimension: dimension, instanceHashes: hashes)
        try write(manifest.text, to: manifestPath)
        let done = Set((try? fm.contentsOfDirectory(atPath: partsDirectory)) ?? [])
        return Plan(problems: problems, runs: ownedRuns.filter { !done.contains(Self.partName($0.id, "summary")) }, lock: lock)
    }

    /// Creates `directory` if needed and locks it. A directory that exists must be empty or hold a sweep's
    /// files (experiment.json): a sweep or merge never writes among someone else's files.
    static func claim(_ directory: String) throws -> DirectoryLock {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw Failure(description: "\(directory): exists and is not a directory") }
            let entries = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0 != DirectoryLock.fileName }
            if !entries.isEmpty, !entries.contains("experiment.json") {
                throw Failure(description: "\(directory): is not empty and holds no sweep; choose another output directory")
            }
        } else {
            do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw Failure(description: "\(directory): cannot create the output directory")
            }
        }
        do { return try DirectoryLock(directory: directory) } catch { throw Failure(description: error.description) }
    }

    var shardText: String? { options.shard.map { "\($0.index)/\($0.count)" } }

    func write(_ text: String, to path: String) throws {
        do { try AtomicFile.write(text, to: path) } catch { throw Failure(description: error.description) }
    }

    /// Where the exact optima of a run come from: its instance and its lambda.
    struct OptimumKey: Hashable {
        var instance: Int
        var lambda: Double
    }

    /// Runs the plan's runs and assembles the CSVs; returns how many of the owned runs diverged (status
    /// `diverged` in summary.csv: they stopped at their last good iterate). `progress(done, total)` is called
    /// after each run.
    @discardableResult
    public func run(_ plan: Plan, progress: @escaping @Sendable (Int, Int) -> Void) throws -> Int {
        let (problems, runs) = (plan.problems, plan.runs)
        let dimension = plan.dimension
        // Exact optima once per (instance, lambda), in parallel too.
        var configured = NewtonSolver()
        configured.memoryLimit = options.maxMemory
        let solver = configured
        let keys = problems.indices.flatMap { i in spec.lambdas.map { OptimumKey(instance: i, lambda: $0) } }
        let solved = parallelMap(count: keys.count, threads: options.threads) { k in
            Result { try OptimalValues(problem: problems[keys[k].instance], lambda: keys[k].lambda, solver: solver) }
        }
        var solvedOptima: [OptimumKey: OptimalValues] = [:]
        for (key, result) in zip(keys, solved) {
            do { solvedOptima[key] = try result.get() } catch {
                throw Failure(description: "\(spec.instances[key.instance]), lambda \(key.lambda): \(error)")
            }
        }
        let optima = solvedOptima
        let total = ownedRuns.count
        let counter = Counter(start: total - runs.count)
        let instanceNames = spec.instances
        let trajectoryTable = RunTable.trajectory(dimension: dimension, runID: true)
        let summaryTable = RunTable.summary(dimension: dimension)
        // Runs that differ only in seed go together into seed lanes (`SweepTasks`); the others one by one.
        let tasks = SweepTasks.group(runs, problems: problems)
        let failures = parallelMap(count: tasks.count, threads: options.threads) { k -> String? in
            let range = tasks[k]
            let started = Date()
            let first = runs[range.lowerBound]
            let problem = problems[first.instance]
            let trainer = Trainer(problem: problem, optima: optima[OptimumKey(instance: first.instance, lambda: first.spec.lambda)]!)
            let laned = range.count > 1 ? trainer.runSeeds(first.spec, seeds: runs[range].map(\.spec.seed)) : nil
            let share = laned.map { _ in Date().timeIntervalSince(started) / Double(range.count) }
            for (offset, run) in runs[range].enumerated() {
                let runStarted = Date()
                let labels = RunTable.Labels(run.spec)
                do {
                    // Rows stream to the part file as they come; the summary part last: its presence marks the run as finished.
                    let trajectory = try StreamingFile(path: self.partPath(run.id, "trajectory"))
                    let result: RunResult
                    if let laned {
                        for row in laned[offset].rows {
                            try trajectory.write(trajectoryTable.line(RunTable.trajectoryFields(labels, row, dimension: dimension, runID: run.id)))
                        }
                        result = laned[offset].result
                    } else {
                        result = try trainer.run(run.spec) { row in
                            try trajectory.write(trajectoryTable.line(RunTable.trajectoryFields(labels, row, dimension: dimension, runID: run.id)))
                        }
                    }
                    try trajectory.commit()
                    let summary = RunTable.summaryFields(runID: run.id, instance: instanceNames[run.instance],
                                                         instanceName: problem.instance.name, spec: run.spec, result: result,
                                                         dimension: dimension, seconds: share ?? Date().timeIntervalSince(runStarted))
                    try AtomicFile.write(summaryTable.line(summary), to: self.partPath(run.id, "summary"))
                } catch {
                    return String(describing: error)
                }
                progress(counter.increment(), total)
            }
            return nil
        }
        if let failure = failures.compactMap({ $0 }).first { throw Failure(description: failure) }
        return try Self.assemble(parts: [partsDirectory], ids: ownedRuns.map(\.id), dimension: dimension, into: directory)
    }

    func partPath(_ id: Int, _ kind: String) -> String {
        (partsDirectory as NSString).appendingPathComponent(Self.partName(id, kind))
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int
        init(start: Int) { value = start }
        func increment() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }

    /// Writes DIR/trajectories.csv and DIR/summary.csv from the part files of `ids` (looked up in the
    /// part directories in order), in run order. Throws if a part is missing.
    /// Returns the number of assembled runs whose status is `diverged`.
    @discardableResult
    public static func assemble(parts: [String], ids: [Int], dimension: Int, into directory: String) throws -> Int {
        let statusColumn = RunTable.summary(dimension: dimension).columns.firstIndex(of: "status")!
        var diverged = 0
        let fm = FileManager.default
        func locate(_ name: String) -> String? {
            parts.map { ($0 as NSString).appendingPathComponent(name) }.first { fm.fileExists(atPath: $0) }
        }
        let trajectories = try streaming((directory as NSString).appendingPathComponent("trajectories.csv"))
        let summary = try streaming((directory as NSString).appendingPathComponent("summary.csv"))
        try trajectories.write(RunTable.trajectory(dimension: dimension, runID: true).header)
        try summary.write(RunTable.summary(dimension: dimension).header)
        let summaryWidth = RunTable.summary(dimension: dimension).columns.count
        let trajectoryWidth = RunTable.trajectory(dimension: dimension, runID: true).columns.count
        for id in ids.sorted() {
            guard let t = locate(partName(id, "trajectory")), let s = locate(partName(id, "summary")),
                  let tText = try? String(contentsOfFile: t, encoding: .utf8),
                  let sText = try? String(contentsOfFile: s, encoding: .utf8) else {
                throw Failure(description: "run \(id) has no finished part in \(parts.joined(separator: ", "))")
            }
            try checkWidth(sText, summaryWidth, s)
            try checkWidth(tText, trajectoryWidth, t)
            do {
                try trajectories.write(tText)
                try summary.write(sText)
            } catch {
                throw Failure(description: error.description)
            }
            if CSV.parseLine(sText.dropLast())[statusColumn] == "diverged" { diverged += 1 }
        }
        do {
            try trajectories.commit()
            try summary.commit()
        } catch {
            throw Failure(description: error.description)
        }
        return diverged
    }

    /// A part's first line has as many fields as this version's header: a part written by a version with
    /// other columns (or cut short) is refused, naming the file, instead of being mixed under the header.
    static func checkWidth(_ text: String, _ width: Int, _ file: String) throws {
        var quoted = false  // a quoted field (an instance path) may hold a newline
        let end = text.firstIndex { c in
            if c == "\"" { quoted.toggle() }
            return c == "\n" && !quoted
        } ?? text.endIndex
        let fields = CSV.parseLine(text[..<end]).count
        guard fields == width else {
            throw Failure(description: "\(file): has \(fields) columns where this version writes \(width) "
                          + "(a part of another version, or cut short); start over with --force")
        }
    }

    static func streaming(_ path: String) throws -> StreamingFile {
        do { return try StreamingFile(path: path) } catch { throw Failure(description: error.description) }
    }

    /// Combines shard directories of one experiment into `output`: exactly the CSVs an unsharded sweep
    /// writes. The number of theta columns comes from the shards' manifests: no instance is loaded.
    public static func merge(output: String, shards: [String], version: String, force: Bool = false) throws {
        guard !shards.isEmpty else { throw Failure(description: "merge needs at least one shard directory") }
        var manifests: [Manifest] = []
        for shard in shards {
            manifests.append(try Manifest.read((shard as NSString).appendingPathComponent("experiment.json")))
        }
        let first = manifests[0]
        for (shard, m) in zip(shards, manifests)
        where m.spec != first.spec || m.dimension != first.dimension || m.instanceHashes != first.instanceHashes {
            throw Failure(description: "\(shard): holds a different experiment (or other instance files) from \(shards[0])")
        }
        let standardized = Set(shards.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path })
        if standardized.contains(URL(fileURLWithPath: output).resolvingSymlinksInPath().path) {
            throw Failure(description: "\(output): is one of the shards; merge into a new directory")
        }
        let lock = try claim(output)
        defer { withExtendedLifetime(lock) {} }
        let outputManifest = (output as NSString).appendingPathComponent("experiment.json")
        if FileManager.default.fileExists(atPath: outputManifest) {
            guard force else { throw Failure(description: "\(output): already holds a sweep or a merge (pass --force to overwrite it)") }
            // A merged directory has no parts of its own: a sweep's old parts must not be resumed into it.
            _ = try Manifest.read(outputManifest)
            try? FileManager.default.removeItem(atPath: (output as NSString).appendingPathComponent("parts"))
        }
        try assemble(parts: shards.map { ($0 as NSString).appendingPathComponent("parts") }, ids: Array(0..<first.runs),
                     dimension: first.dimension, into: output)
        let merged = Manifest(spec: first.spec, version: version, gitCommit: first.gitCommit, runs: first.runs, shard: nil,
                              dimension: first.dimension, instanceHashes: first.instanceHashes)
        do { try AtomicFile.write(merged.text, to: (output as NSString).appendingPathComponent("experiment.json")) } catch {
            throw Failure(description: error.description)
        }
    }
}
