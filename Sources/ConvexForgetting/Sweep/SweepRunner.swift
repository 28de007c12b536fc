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

        public init(threads: Int, shard: (index: Int, count: Int)? = nil, resume: Bool = false, force: Bool = false,
                    version: String, gitCommit: String? = nil) {
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

    public init(spec: ExperimentSpec, directory: String, options: Options) {
        self.spec = spec
        self.directory = directory
        self.options = options
    }

    var partsDirectory: String { (directory as NSString).appendingPathComponent("parts") }
    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
    static func partName(_ id: Int, _ kind: String) -> String { String(format: "run-%07d.%@.csv", id, kind) }

    /// The runs this invocation owns (its shard), before skipping finished ones.
    public var ownedRuns: [ExperimentSpec.Run] {
        let all = spec.runs
        guard let shard = options.shard else { return all }
        return all.filter { $0.id % shard.count == shard.index }
    }

    /// What `prepare` found: the loaded instances and the runs still to do.
    public struct Plan: Sendable {
        public var problems: [Problem]
        public var runs: [ExperimentSpec.Run]
    }

    /// Loads every instance and checks every run against it, then checks the directory and writes
    /// experiment.json. Throws before touching the directory when an instance or a run is bad, and before
    /// any run starts when the directory holds another experiment, or a sweep without --resume/--force.
    public func prepare() throws -> Plan {
        var problems: [Problem] = []
        for file in spec.instances {
            do { problems.append(Problem(try InstanceLoader.load(path: file))) } catch {
                throw Failure(description: error.description)
            }
        }
        for run in ownedRuns {
            do { try run.spec.validate(dimension: problems[run.instance].dimension) } catch {
                throw Failure(description: "run \(run.id) (\(spec.instances[run.instance])): \(error)")
            }
        }
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: partsDirectory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "\(directory): cannot create the output directory")
        }
        let manifest = path("experiment.json")
        if fm.fileExists(atPath: manifest) {
            if options.resume {
                let stored = try Self.readManifest(manifest)
                guard stored.spec == spec else {
                    throw Failure(description: "\(manifest): holds a different experiment; --resume needs the same spec")
                }
                guard stored.shard == shardText else {
                    throw Failure(description: "\(manifest): was shard \(stored.shard ?? "none"), not \(shardText ?? "none")")
                }
            } else if options.force {
                for name in (try? fm.contentsOfDirectory(atPath: partsDirectory)) ?? [] {
                    try? fm.removeItem(atPath: (partsDirectory as NSString).appendingPathComponent(name))
                }
            } else {
                throw Failure(description: "\(directory): already holds a sweep (pass --resume to finish it or --force to start over)")
            }
        }
        try write(manifestJSON, to: manifest)
        let done = Set((try? fm.contentsOfDirectory(atPath: partsDirectory)) ?? [])
        return Plan(problems: problems, runs: ownedRuns.filter { !done.contains(Self.partName($0.id, "summary")) })
    }

    var shardText: String? { options.shard.map { "\($0.index)/\($0.count)" } }

    struct Manifest: Codable {
        var spec: ExperimentSpec
        var version: String
        var gitCommit: String?
        var runs: Int
        var shard: String?
    }

    var manifestJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let manifest = Manifest(spec: spec, version: options.version, gitCommit: options.gitCommit, runs: spec.runs.count, shard: shardText)
        return String(decoding: (try? encoder.encode(manifest)) ?? Data(), as: UTF8.self) + "\n"
    }

    static func readManifest(_ path: String) throws -> Manifest {
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw Failure(description: "\(path): not a sweep manifest (\(error))")
        }
    }

    func write(_ text: String, to path: String) throws {
        do { try AtomicFile.write(text, to: path) } catch { throw Failure(description: error.description) }
    }

    /// Runs the plan's runs and assembles the CSVs. `progress(done, total)` is called after each run.
    public func run(_ plan: Plan, progress: @escaping @Sendable (Int, Int) -> Void) throws {
        let (problems, runs) = (plan.problems, plan.runs)
        let dimension = problems.map(\.dimension).max() ?? 0
        // Exact optima once per (instance, lambda), in parallel too.
        let pairs = problems.indices.flatMap { i in spec.lambdas.map { (i, $0) } }
        let frozen = problems
        let solved = parallelMap(count: pairs.count, threads: options.threads) { k in
            OptimalValues(problem: frozen[pairs[k].0], lambda: pairs[k].1)
        }
        var optima: [String: OptimalValues] = [:]
        for (k, pair) in pairs.enumerated() { optima["\(pair.0) \(pair.1)"] = solved[k] }
        let total = ownedRuns.count
        let alreadyDone = total - runs.count
        let counter = Counter(start: alreadyDone)
        let frozenOptima = optima
        let frozenProblems = problems
        let instanceNames = spec.instances
        let failures = parallelMap(count: runs.count, threads: options.threads) { k -> String? in
            let run = runs[k]
            let started = Date()
            let trainer = Trainer(problem: frozenProblems[run.instance], optima: frozenOptima["\(run.instance) \(run.spec.lambda)"]!)
            var lines = ""
            let result = trainer.run(run.spec) { row in
                lines += "\(run.id)," + RunCSV.trajectoryLine(run.spec, row, dimension: dimension)
            }
            let summary = SweepRunner.summaryLine(run, instance: instanceNames[run.instance], result: result,
                                                  seconds: Date().timeIntervalSince(started))
            do {
                try AtomicFile.write(lines, to: (partsDirectory as NSString).appendingPathComponent(Self.partName(run.id, "trajectory")))
                // The summary part last: its presence marks the run as finished.
                try AtomicFile.write(summary, to: (partsDirectory as NSString).appendingPathComponent(Self.partName(run.id, "summary")))
            } catch {
                return String(describing: error)
            }
            progress(counter.increment(), total)
            return nil
        }
        if let failure = failures.compactMap({ $0 }).first { throw Failure(description: failure) }
        try Self.assemble(parts: [partsDirectory], ids: ownedRuns.map(\.id), dimension: dimension, into: directory)
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

    public static let summaryColumns = ["run_id", "instance", "method", "lambda", "steps", "schedule", "rate", "seed", "batch",
                                        "eval_every", "dpo_steps", "sft_steps", "threshold", "record", "steps_taken", "f_dpo",
                                        "f_sft", "f_mix", "gap_dpo", "gap_sft", "gap_mix", "ideal_distance", "grad_evals",
                                        "loss_evals", "wall_seconds"]

    static func summaryLine(_ run: ExperimentSpec.Run, instance: String, result: RunResult, seconds: Double) -> String {
        let s = run.spec, f = result.final
        func optional(_ v: Int?) -> String { v.map(String.init) ?? "" }
        return CSV.line(["\(run.id)", CSV.field(instance), s.method.rawValue, CSV.number(s.lambda), "\(s.steps)", s.schedule.name,
                         CSV.number(s.schedule.baseRate), "\(s.seed)", s.batch.map(String.init) ?? "full", "\(s.evalEvery)",
                         optional(s.dpoSteps), optional(s.sftSteps), s.threshold.map(CSV.number) ?? "", s.record.description,
                         "\(result.steps)"]
                        + [f.fDPO, f.fSFT, f.fMix, f.gapDPO, f.gapSFT, f.gapMix, f.idealDistance].map(CSV.number)
                        + ["\(result.gradEvals)", "\(result.lossEvals)", String(format: "%.6f", seconds)])
    }

    /// Writes DIR/trajectories.csv and DIR/summary.csv from the part files of `ids` (looked up in the
    /// part directories in order), in run order. Throws if a part is missing.
    public static func assemble(parts: [String], ids: [Int], dimension: Int, into directory: String) throws {
        let fm = FileManager.default
        func locate(_ name: String) -> String? {
            parts.map { ($0 as NSString).appendingPathComponent(name) }.first { fm.fileExists(atPath: $0) }
        }
        let trajectories = try streaming((directory as NSString).appendingPathComponent("trajectories.csv"))
        let summary = try streaming((directory as NSString).appendingPathComponent("summary.csv"))
        trajectories.write("run_id," + RunCSV.trajectoryHeader(dimension: dimension))
        summary.write(CSV.line(summaryColumns))
        for id in ids.sorted() {
            guard let t = locate(partName(id, "trajectory")), let s = locate(partName(id, "summary")),
                  let tText = try? String(contentsOfFile: t, encoding: .utf8),
                  let sText = try? String(contentsOfFile: s, encoding: .utf8) else {
                throw Failure(description: "run \(id) has no finished part in \(parts.joined(separator: ", "))")
            }
            trajectories.write(tText)
            summary.write(sText)
        }
        do {
            try trajectories.commit()
            try summary.commit()
        } catch {
            throw Failure(description: error.description)
        }
    }

    static func streaming(_ path: String) throws -> StreamingFile {
        do { return try StreamingFile(path: path) } catch { throw Failure(description: error.description) }
    }

    /// Combines shard directories of one experiment into `output`: exactly the CSVs an unsharded sweep writes.
    public static func merge(output: String, shards: [String], version: String) throws {
        guard !shards.isEmpty else { throw Failure(description: "merge needs at least one shard directory") }
        var manifests: [Manifest] = []
        for shard in shards {
            manifests.append(try readManifest((shard as NSString).appendingPathComponent("experiment.json")))
        }
        let spec = manifests[0].spec
        for (shard, m) in zip(shards, manifests) where m.spec != spec {
            throw Failure(description: "\(shard): holds a different experiment from \(shards[0])")
        }
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            throw Failure(description: "\(output): cannot create the directory")
        }
        var dimension = 0
        for file in spec.instances {
            do { dimension = max(dimension, try InstanceLoader.load(path: file).dimension) } catch {
                throw Failure(description: error.description)
            }
        }
        try assemble(parts: shards.map { ($0 as NSString).appendingPathComponent("parts") }, ids: Array(0..<spec.runs.count),
                     dimension: dimension, into: output)
        let runner = SweepRunner(spec: spec, directory: output, options: Options(threads: 1, version: version, gitCommit: manifests[0].gitCommit))
        try runner.write(runner.manifestJSON, to: (output as NSString).appendingPathComponent("experiment.json"))
    }
}
