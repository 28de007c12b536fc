import ConvexForgetting
import Foundation
import Testing

/// `forgetting sweep` and `forgetting merge`: determinism, resume, shards, and bad experiment files.
@Suite struct SweepTests {
    /// A small experiment in a fresh directory, instances referenced relative to it.
    func experiment(_ body: String = SweepTests.smallGrid) throws -> (directory: URL, file: String) {
        let directory = try temporaryDirectory()
        for name in ["figure2.json", "lower-bound.json", "random-a.json"] {
            try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Experiments/instances/\(name)"),
                                             to: directory.appendingPathComponent(name))
        }
        let file = directory.appendingPathComponent("experiment.yaml")
        try body.write(to: file, atomically: true, encoding: .utf8)
        return (directory, file.path)
    }

    static let smallGrid = """
    name: small
    instances: [lower-bound.json, random-a.json]
    methods: [alright, sequential, maxright-stale, mix]
    lambdas: [0.3, 0.7]
    steps: [20, 50]
    seeds: {from: 0, count: 3}
    schedules:
      - {name: constant, rate: 0.1}
      - {name: inverse-sqrt, rate: 0.5}
    evalEvery: [1, 5]
    batch: [full, 2]
    record: every:10
    """

    func read(_ directory: URL, _ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// summary.csv without its last column (wall seconds).
    func deterministicSummary(_ directory: URL) throws -> [String] {
        try read(directory, "summary.csv").split(separator: "\n").map { line in
            String(line[..<line.lastIndex(of: ",")!])
        }
    }

    @Test func resultsDoNotDependOnThreads() throws {
        let (directory, file) = try experiment()
        let one = directory.appendingPathComponent("one"), two = directory.appendingPathComponent("two")
        let a = try runCLI(["sweep", file, "--out", one.path, "--threads", "1"])
        let b = try runCLI(["sweep", file, "--out", two.path, "--threads", "2"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(try read(one, "trajectories.csv") == read(two, "trajectories.csv"))
        #expect(try deterministicSummary(one) == deterministicSummary(two))
        // 2 instances x (alright 1 + sequential 1 + maxright-stale 2 + mix 1) x 2 schedules x 2 lambdas x 2 T x 2 batches x 3 seeds
        #expect(try deterministicSummary(one).count == 1 + 2 * 5 * 2 * 2 * 2 * 2 * 3)
        let manifest = try JSONSerialization.jsonObject(with: Data(read(one, "experiment.json").utf8)) as! [String: Any]
        #expect(manifest["version"] as? String != nil && manifest["runs"] as? Int == 480)
        #expect(a.stderr.contains("480 runs"))
    }

    @Test func resumeCompletesAnInterruptedSweep() throws {
        let (directory, file) = try experiment()
        let full = directory.appendingPathComponent("full"), partial = directory.appendingPathComponent("partial")
        #expect(try runCLI(["sweep", file, "--out", full.path]).status == 0)
        #expect(try runCLI(["sweep", file, "--out", partial.path]).status == 0)
        // Simulate an interruption: drop some finished runs and the assembled CSVs.
        let parts = partial.appendingPathComponent("parts")
        for id in [3, 77, 200, 479] {
            try FileManager.default.removeItem(at: parts.appendingPathComponent(String(format: "run-%07d.summary.csv", id)))
        }
        try FileManager.default.removeItem(at: partial.appendingPathComponent("trajectories.csv"))
        try FileManager.default.removeItem(at: partial.appendingPathComponent("summary.csv"))
        // Without --resume the directory is refused; with it, only the 4 runs are done again.
        let refused = try runCLI(["sweep", file, "--out", partial.path])
        #expect(refused.status != 0 && refused.stderr.contains("--resume"))
        let resumed = try runCLI(["sweep", file, "--out", partial.path, "--resume"])
        #expect(resumed.status == 0 && resumed.stderr.contains("4 run now"), "\(resumed.stderr)")
        #expect(try read(full, "trajectories.csv") == read(partial, "trajectories.csv"))
        #expect(try deterministicSummary(full) == deterministicSummary(partial))
    }

    /// A part of another version (here: one column fewer, as before gap_max existed) is refused when the
    /// sweep is resumed, naming the file, before any run is done again; the assembled CSVs are not replaced.
    /// So is a trajectory part cut short, when the CSVs are assembled (here a resume with nothing left to run).
    @Test func resumeRefusesPartsOfAnotherWidth() throws {
        let (directory, file) = try experiment()
        let out = directory.appendingPathComponent("out")
        #expect(try runCLI(["sweep", file, "--out", out.path]).status == 0)
        // As an older version left it: its manifest names that version, which a refused resume must keep.
        let manifestFile = out.appendingPathComponent("experiment.json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestFile)) as! [String: Any]
        manifest["version"] = "0.0.1-older"
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestFile)
        let summaryBefore = try read(out, "summary.csv"), manifestBefore = try read(out, "experiment.json")
        let parts = out.appendingPathComponent("parts")
        let part = parts.appendingPathComponent("run-0000005.summary.csv")
        let line = try String(contentsOf: part, encoding: .utf8)
        let narrower = CSV.line(Array(CSV.parseLine(line.dropLast()).dropLast()))
        try narrower.write(to: part, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: parts.appendingPathComponent("run-0000009.summary.csv"))
        let resumed = try runCLI(["sweep", file, "--out", out.path, "--resume"])
        #expect(resumed.status == 1, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("run-0000005.summary.csv") && resumed.stderr.contains("columns where this version writes"),
                "\(resumed.stderr)")
        #expect(resumed.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: parts.appendingPathComponent("run-0000009.summary.csv").path))
        #expect(try read(out, "summary.csv") == summaryBefore && read(out, "experiment.json") == manifestBefore)
        // The part put back, run 9 done again; then a trajectory part cut in the middle of its first row.
        try line.write(to: part, atomically: true, encoding: .utf8)
        #expect(try runCLI(["sweep", file, "--out", out.path, "--resume"]).status == 0)
        let trajectoriesBefore = try read(out, "trajectories.csv")
        let trajectory = parts.appendingPathComponent("run-0000002.trajectory.csv")
        let rows = try String(contentsOf: trajectory, encoding: .utf8)
        try String(rows.prefix(20)).write(to: trajectory, atomically: true, encoding: .utf8)
        let assembled = try runCLI(["sweep", file, "--out", out.path, "--resume"])
        #expect(assembled.status == 1 && assembled.stderr.contains("run-0000002.trajectory.csv"), "\(assembled.stderr)")
        #expect(try read(out, "trajectories.csv") == trajectoriesBefore)
    }

    @Test func mergedShardsEqualTheUnshardedSweep() throws {
        let (directory, file) = try experiment()
        let whole = directory.appendingPathComponent("whole")
        #expect(try runCLI(["sweep", file, "--out", whole.path]).status == 0)
        var shardDirectories: [String] = []
        for i in 0..<3 {
            let shard = directory.appendingPathComponent("shard\(i)").path
            let result = try runCLI(["sweep", file, "--out", shard, "--shard", "\(i)/3"])
            #expect(result.status == 0, "\(result.stderr)")
            shardDirectories.append(shard)
        }
        let merged = directory.appendingPathComponent("merged")
        let result = try runCLI(["merge", merged.path] + shardDirectories)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try read(whole, "trajectories.csv") == read(merged, "trajectories.csv"))
        #expect(try deterministicSummary(whole) == deterministicSummary(merged))
        // A missing shard is an error, not a silently short CSV.
        let short = try runCLI(["merge", directory.appendingPathComponent("short").path] + shardDirectories.dropLast())
        #expect(short.status != 0 && short.stderr.contains("no finished part"))
    }

    @Test(arguments: [
        ("lambdas: [0.3, 0.7]", "lambdas: [0.3, 1.7]", "lambdas[1]"),
        ("lambdas: [0.3, 0.7]", "lambdas: []", "empty grid"),
        ("methods: [alright, sequential, maxright-stale, mix]", "methods: [alright, adam]", "unknown method 'adam'"),
        ("instances: [lower-bound.json, random-a.json]", "instances: [lower-bound.json, missing.json]", "missing.json"),
        ("record: every:10", "record: every:10\nrecrod: all", "recrod"),
        ("{name: constant, rate: 0.1}", "{name: cosine, rate: 0.1}", "schedules[0]"),
        ("{name: constant, rate: 0.1}", "{name: constant, rate: 0.1, warmup: 3}", "schedules[0].warmup"),
        ("steps: [20, 50]", "steps: [20, 0]", "steps[1]"),
        ("seeds: {from: 0, count: 3}", "seeds: {from: 0, count: 0}", "seeds.count"),
        ("batch: [full, 2]", "batch: [full, 0]", "batch[1]"),
    ])
    func badExperimentFilesFailBeforeAnyRun(_ original: String, _ replacement: String, _ fragment: String) throws {
        let body = Self.smallGrid.replacingOccurrences(of: original, with: replacement)
        #expect(body != Self.smallGrid)
        let (directory, file) = try experiment(body)
        let out = directory.appendingPathComponent("out")
        let result = try runCLI(["sweep", file, "--out", out.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains(fragment) && result.stderr.contains("experiment.yaml"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func jsonExperimentsAreAccepted() throws {
        let json = """
        {"instances": ["figure2.json"], "methods": ["alright"], "lambdas": [0.5], "steps": [100], "seeds": [4],
         "schedules": [{"name": "constant", "rate": 0.01}]}
        """
        let (directory, file) = try experiment(json)
        let out = directory.appendingPathComponent("out")
        #expect(try runCLI(["sweep", file, "--out", out.path]).status == 0)
        #expect(try deterministicSummary(out).count == 2)
    }
}

/// The experiment files shipped in Experiments/ parse, name existing instances, and have the grids they claim.
@Suite struct ShippedExperimentTests {
    @Test(arguments: ["theorem33", "theorem41", "pareto", "maxright-k"])
    func experimentFileParses(_ name: String) throws {
        let spec = try ExperimentSpec.load(path: repositoryRoot.appendingPathComponent("Experiments/\(name).yaml").path)
        let runs = try spec.runs()
        #expect(!runs.isEmpty)
        for run in runs {
            let file = spec.instances[run.instance]  // resolved: absolute, or relative to the working directory
            let path = file.hasPrefix("/") ? file : repositoryRoot.appendingPathComponent(file).path
            let problem = try Problem(try InstanceFile.load(path: path))
            try run.spec.validate(dimension: problem.dimension)
        }
        if name == "maxright-k" { #expect(runs.map(\.spec.method.parameters.evalEvery) == [1, 10, 100, 1000]) }
        if name == "pareto" {
            // Sequential splits T by lambda.
            let sequential = runs.filter { $0.spec.method.name == .sequential }
            #expect(!sequential.isEmpty)
            #expect(sequential.allSatisfy { ($0.spec.method.parameters.dpoSteps ?? -1) + ($0.spec.method.parameters.sftSteps ?? -1) == $0.spec.steps })
        }
    }

    /// The slurm script's shard layout: `--shard I/N` for I in 0..<N covers every run exactly once.
    @Test func shardsPartitionTheGrid() throws {
        let spec = try ExperimentSpec.load(path: repositoryRoot.appendingPathComponent("Experiments/theorem33.yaml").path)
        var seen: [Int] = []
        for i in 0..<4 {
            let runner = try SweepRunner(spec: spec, directory: "/tmp/unused", options: .init(threads: 1, shard: (i, 4), version: "test"))
            seen += runner.ownedRuns.map(\.id)
        }
        #expect(seen.sorted() == Array(0..<(try spec.runs()).count))
    }
}

/// A bad instance named by an experiment stops the sweep before the output directory is made.
@Suite struct SweepFieldErrorTests {
    @Test func badInstanceFailsBeforeTheDirectoryIsMade() throws {
        let directory = try temporaryDirectory()
        try "{\"featureBound\": 1, \"beta\": 0, \"reference\": {\"theta\": [0]}, \"dpo\": [{\"features\": [[1], [0]], \"chosen\": 0, \"rejected\": 1}], \"sft\": [{\"features\": [[1], [0]], \"target\": 0}]}"
            .write(to: directory.appendingPathComponent("bad.json"), atomically: true, encoding: .utf8)
        let yaml = directory.appendingPathComponent("e.yaml")
        try "instances: [bad.json]\nmethods: [alright]\nlambdas: [0.5]\nsteps: [10]\nseeds: [0]\nschedules: [{name: constant, rate: 0.1}]\n"
            .write(to: yaml, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let result = try runCLI(["sweep", yaml.path, "--out", out.path])
        #expect(result.status != 0 && result.stderr.contains("bad.json") && result.stderr.contains("beta"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
