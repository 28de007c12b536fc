import ConvexForgetting
import Foundation
import PropertyBased
import Testing

/// Bad flags and divergent runs as an adversarial user meets them (hardening issue, items 1 and 6).
@Suite struct HardeningTests {
    var figure2: String { repositoryRoot.appendingPathComponent(Figure2.instancePath).path }

    func stderrLines(_ result: CLIResult) -> [Substring] { result.stderr.split(separator: "\n") }

    /// Every bad flag: exit 1, exactly one stderr line naming the flag.
    @Test(arguments: [
        (["--steps", "-1"], "--steps"), (["--batch", "-1"], "--batch"), (["--seed", "-1"], "--seed"),
        (["--dpo-steps", "-1", "--method", "sequential"], "--dpo-steps"), (["--learning-rate", "-0.1"], "--learning-rate"),
        (["--lambda", "-0.5"], "--lambda"), (["--method", "bogus"], "--method"), (["--schedule", "cosine"], "--schedule"),
        (["--record", "every:0"], "--record"), (["--init", "1,x"], "--init"), (["--eval-every", "0", "--method", "maxright-stale"], "--eval-every"),
        (["--steps", "12x"], "--steps"), (["--frobnicate"], "--frobnicate"),
    ])
    func badTrainFlagsGiveOneLine(_ flags: [String], _ named: String) throws {
        let out = try temporaryDirectory().appendingPathComponent("t.csv").path
        var arguments = ["train", "--instance", figure2, "--method", "alright", "--lambda", "0.5", "--steps", "10",
                         "--learning-rate", "0.1", "--out", out]
        // Later flags override earlier ones in ArgumentParser only for single-value options: drop the defaults given.
        for flag in flags where flag.hasPrefix("--") {
            if let i = arguments.firstIndex(of: flag) { arguments.removeSubrange(i...(i + 1)) }
        }
        let result = try runCLI(arguments + flags)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(stderrLines(result).count == 1 && result.stderr.contains(named), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test(arguments: [
        ["sweep", "x.yaml", "--out", "/tmp/unused-sweep", "--shard", "-1/2"], ["sweep", "x.yaml", "--out", "/tmp/unused-sweep", "--threads", "-1"],
        ["verify", "theorem41", "--horizons", "100,10"], ["verify", "theorem41", "--seeds", "-3"], ["front", "--instance", "x", "--out", "/tmp/f.csv", "--points", "-2"],
        ["check", "--instance", "x", "--points", "-5"], ["instance", "random", "--dim", "-1", "--outputs", "2", "--dpo", "1", "--sft", "1", "--out", "/tmp/i.json"],
        ["eval", "--instance", "x"], ["bench", "nothing"], ["figure2", "--lambda", "-1"],
    ])
    func badFlagsAnywhereGiveOneLine(_ arguments: [String]) throws {
        let result = try runCLI(arguments)
        #expect(result.status == 1 && stderrLines(result).count == 1, "\(arguments): \(result.status) \(result.stderr)")
    }

    @Test func helpAndVersionStillWork() throws {
        let help = try runCLI(["train", "--help"])
        #expect(help.status == 0 && help.stdout.contains("--learning-rate"))
        let version = try runCLI(["--version"])
        #expect(version.status == 0 && !version.stdout.isEmpty)
    }

    /// Generated flag sets for train: whatever the values, the command succeeds, or fails with one line and
    /// exit 1 (or 3 when it diverged), quickly.
    @Test func generatedTrainFlags() async throws {
        let values = ["-1", "0", "1", "2.5", "1e308", "-1e-300", "nan", "inf", "x", "", "9223372036854775808", "0x10", "--"]
        let flags = ["--steps", "--lambda", "--learning-rate", "--seed", "--batch", "--dpo-steps", "--eval-every", "--threshold", "--init", "--record"]
        let directory = try temporaryDirectory()
        await propertyCheck(count: 60, input: Gen.int(in: 0..<flags.count), Gen.int(in: 0..<values.count), Gen.int(in: 0..<flags.count), Gen.int(in: 0..<values.count)) { f1, v1, f2, v2 in
            let out = directory.appendingPathComponent("\(f1)-\(v1)-\(f2)-\(v2).csv").path
            var arguments = ["train", "--instance", figure2, "--method", "alright", "--out", out]
            var given: [String: String] = ["--lambda": "0.5", "--steps": "20", "--learning-rate": "0.1"]
            given[flags[f1]] = values[v1]
            given[flags[f2]] = values[v2]
            for (k, v) in given.sorted(by: { $0.key < $1.key }) { arguments += [k, v] }
            let started = Date()
            let result = try runCLI(arguments)
            #expect(Date().timeIntervalSince(started) < 10)
            // 0 success, 1 bad input, 3 diverged (a huge learning rate): one stderr line whenever not 0.
            #expect(result.status == 0 || ([1, 3].contains(result.status) && self.stderrLines(result).count == 1),
                    "\(arguments): \(result.status) \(result.stderr)")
            #expect(!result.stdout.contains("nan") && !result.stderr.contains("Fatal"))
        }
    }

    /// A divergent run stops at the step whose update would leave the finite range, keeps its rows, says so
    /// in one line and exits 3; nothing non-finite is written.
    @Test func divergenceIsNotSuccess() throws {
        let out = try temporaryDirectory().appendingPathComponent("d.csv").path
        let result = try runCLI(["train", "--instance", repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json").path,
                                 "--method", "alright", "--lambda", "0.5", "--steps", "100", "--learning-rate", "1e307", "--out", out])
        #expect(result.status == 3 && stderrLines(result).count == 1 && result.stderr.contains("diverged at step 1"), "\(result.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 2 && !text.contains("nan") && !text.contains("inf"))
    }

    /// In a sweep a divergent run is recorded with status diverged; the sweep succeeds and counts it.
    @Test func sweepRecordsDivergedRuns() throws {
        let root = try temporaryDirectory()
        let yaml = root.appendingPathComponent("e.yaml")
        try "instances: [\(repositoryRoot.path)/Experiments/instances/random-a.json]\nmethods: [alright]\nlambdas: [0.5]\nsteps: [50]\nseeds: [0]\nschedules: [{name: constant, rate: 0.1}, {name: constant, rate: 1e307}]\n"
            .write(to: yaml, atomically: true, encoding: .utf8)
        let out = root.appendingPathComponent("out").path
        let result = try runCLI(["sweep", yaml.path, "--out", out])
        #expect(result.status == 0 && result.stderr.contains("1 diverged"), "\(result.stderr)")
        let rows = try String(contentsOfFile: out + "/summary.csv", encoding: .utf8).split(separator: "\n").map { CSV.parseLine($0) }
        let status = rows[0].firstIndex(of: "status")!, taken = rows[0].firstIndex(of: "steps_taken")!
        #expect(rows[1][status] == "ok" && rows[1][taken] == "50")
        #expect(rows[2][status] == "diverged" && rows[2][taken] == "0")
    }

    /// The loop's divergence guard through the library: the last good iterate is the final row.
    @Test func trainerStopsAtTheLastGoodIterate() throws {
        let problem = try figure2Problem()
        let trainer = Trainer(problem: problem, optima: try OptimalValues(problem: problem, lambda: 0.5))
        let ok = trainer.run(RunSpec(method: .alright, lambda: 0.5, steps: 30, schedule: .constant(0.1))) { _ in }
        #expect(ok.divergedAt == nil && ok.steps == 30)
        var rows: [TrajectoryRow] = []
        let bad = trainer.run(RunSpec(method: .alright, lambda: 0.5, steps: 30, schedule: .constant(1e308), record: .all)) { rows.append($0) }
        #expect(bad.divergedAt == 1 && bad.steps == 0 && rows.map(\.step) == [0] && bad.final.theta == problem.defaultStart)
    }
}

/// Sweep directories are owned: locked, checked on resume, never shared with foreign files (item 4).
@Suite struct SweepOwnershipTests {
    /// An experiment over a private copy of random-a.json; returns (experiment, instance copy).
    func experiment(in root: URL, steps: Int = 20, seeds: Int = 2) throws -> (String, URL) {
        let instance = root.appendingPathComponent("i.json")
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json"), to: instance)
        let yaml = root.appendingPathComponent("e.yaml")
        try "instances: [i.json]\nmethods: [alright]\nlambdas: [0.5]\nsteps: [\(steps)]\nseeds: {count: \(seeds)}\nschedules: [{name: constant, rate: 0.1}]\nrecord: all\n"
            .write(to: yaml, atomically: true, encoding: .utf8)
        return (yaml.path, instance)
    }

    @Test func resumeRefusesAChangedInstance() throws {
        let root = try temporaryDirectory()
        let (yaml, instance) = try experiment(in: root)
        let out = root.appendingPathComponent("out").path
        #expect(try runCLI(["sweep", yaml, "--out", out]).status == 0)
        var text = try String(contentsOf: instance, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"beta\": 0.5", with: "\"beta\": 0.7")
        #expect(text.contains("0.7"))
        try text.write(to: instance, atomically: true, encoding: .utf8)
        let resumed = try runCLI(["sweep", yaml, "--out", out, "--resume"])
        #expect(resumed.status == 1 && resumed.stderr.contains("i.json") && resumed.stderr.contains("changed"), "\(resumed.stderr)")
    }

    @Test func foreignOrBusyDirectoriesAreRefused() throws {
        let root = try temporaryDirectory()
        let (yaml, _) = try experiment(in: root, steps: 3_000_000, seeds: 1)
        // A non-empty directory that holds no sweep.
        let foreign = root.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try "notes".write(to: foreign.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let refused = try runCLI(["sweep", yaml, "--out", foreign.path, "--max-output", "100000"])
        #expect(refused.status == 1 && refused.stderr.contains("holds no sweep"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: foreign.path) == ["notes.txt"])
        // A second sweep into a directory a running sweep holds fails at once.
        let busy = root.appendingPathComponent("busy").path
        let first = Process()
        first.executableURL = forgettingExecutable()
        first.arguments = ["sweep", yaml, "--out", busy, "--threads", "1", "--max-output", "100000"]
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: busy + "/experiment.json") { Thread.sleep(forTimeInterval: 0.05) }
        let started = Date()
        let second = try runCLI(["sweep", yaml, "--out", busy, "--force", "--max-output", "100000"])
        #expect(second.status == 1 && second.stderr.contains("another sweep or merge"), "\(second.stderr)")
        #expect(Date().timeIntervalSince(started) < 5)
        let merge = try runCLI(["merge", busy, busy])
        #expect(merge.status == 1)
    }

    @Test func mergeKeepsFinishedSweepsAndWorksFromElsewhere() throws {
        let root = try temporaryDirectory()
        let (yaml, _) = try experiment(in: root)
        let shards = (0..<2).map { root.appendingPathComponent("s\($0)").path }
        for (i, shard) in shards.enumerated() {
            #expect(try runCLI(["sweep", yaml, "--out", shard, "--shard", "\(i)/2"]).status == 0)
        }
        let whole = root.appendingPathComponent("whole").path
        #expect(try runCLI(["sweep", yaml, "--out", whole]).status == 0)
        let refused = try runCLI(["merge", whole] + shards)
        #expect(refused.status == 1 && refused.stderr.contains("--force"), "\(refused.stderr)")
        // From another working directory: the manifests hold absolute instance paths.
        let elsewhere = try temporaryDirectory()
        let merged = root.appendingPathComponent("merged").path
        let result = try runCLI(["merge", merged] + shards, in: elsewhere)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: merged + "/trajectories.csv", encoding: .utf8)
                == String(contentsOfFile: whole + "/trajectories.csv", encoding: .utf8))
        let resumed = try runCLI(["sweep", yaml, "--out", whole, "--resume"], in: elsewhere)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try runCLI(["merge", whole, "--force"] + shards).status == 0)
    }
}

/// Sizes that inputs declare are checked before anything is allocated (item 2).
@Suite struct DeclaredSizeTests {
    func experiment(_ extra: String, replacing: (String, String)? = nil) throws -> (String, URL) {
        let root = try temporaryDirectory()
        var text = "instances: [\(repositoryRoot.path)/Experiments/instances/random-a.json]\nmethods: [alright]\nlambdas: [0.5]\nsteps: [10]\nseeds: [0]\nschedules: [{name: constant, rate: 0.1}]\n" + extra
        if let (a, b) = replacing { text = text.replacingOccurrences(of: a, with: b) }
        let yaml = root.appendingPathComponent("e.yaml")
        try text.write(to: yaml, atomically: true, encoding: .utf8)
        return (yaml.path, root)
    }

    func refused(_ arguments: [String], _ fragments: [String], within seconds: Double = 30) throws {
        let started = Date()
        let result = try runCLI(arguments)
        #expect(Date().timeIntervalSince(started) < seconds)
        #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        for fragment in fragments { #expect(result.stderr.contains(fragment), "\(fragment): \(result.stderr)") }
    }

    @Test func experimentSizes() throws {
        let (laughs, root) = try experiment("")
        var bomb = ""
        for (i, name) in "abcdefghi".enumerated() {
            let item = i == 0 ? "\"lol\"" : "*" + String("abcdefghi"[String.Index(utf16Offset: i - 1, in: "abcdefghi")])
            bomb += "\(name): &\(name) [" + Array(repeating: item, count: 9).joined(separator: ",") + "]\n"
        }
        try bomb.write(toFile: laughs, atomically: true, encoding: .utf8)
        try refused(["sweep", laughs, "--out", root.appendingPathComponent("o").path], ["expands to more than"])
        let (seeds, r2) = try experiment("", replacing: ("seeds: [0]", "seeds: {count: 1000000000000}"))
        try refused(["sweep", seeds, "--out", r2.appendingPathComponent("o").path], ["seeds.count", "too large"])
        let (huge, r3) = try experiment("", replacing: ("seeds: [0]", "seeds: [18446744073709551615]"))
        try refused(["sweep", huge, "--out", r3.appendingPathComponent("o").path], ["seeds[0]", "too large"])
        let (batch, r4) = try experiment("batch: [100000000000]\n")
        try refused(["sweep", batch, "--out", r4.appendingPathComponent("o").path], ["batch[0]"])
        let (grid, r5) = try experiment("", replacing: ("seeds: [0]", "seeds: {count: 5000000}"))
        try refused(["sweep", grid, "--out", r5.appendingPathComponent("o").path], ["--max-runs", "5000000"])
        #expect(!FileManager.default.fileExists(atPath: r5.appendingPathComponent("o").path))
    }

    @Test func denseWorkIsCheckedFirstAndLargeInstancesGoMatrixFree() throws {
        let root = try temporaryDirectory()
        let wide = root.appendingPathComponent("wide.json").path
        #expect(try runCLI(["instance", "random", "--dim", "100000", "--outputs", "2", "--dpo", "1", "--sft", "1", "--out", wide]).status == 0)
        // Commands that form d x d Hessians refuse it up front, naming d and the bytes.
        try refused(["check", "--instance", wide, "--points", "2"], ["wide.json", "--max-memory", "d = 100000", "MiB"])
        // Training needs only exact optima: the matrix-free solver serves d = 100000.
        let out = root.appendingPathComponent("t.csv").path
        let train = try runCLI(["train", "--instance", wide, "--method", "alright", "--lambda", "0.5", "--steps", "3",
                                "--learning-rate", "0.1", "--record", "final", "--out", out])
        #expect(train.status == 0, "\(train.stderr)")
        // ... and refuses when even that does not fit.
        try refused(["train", "--instance", wide, "--method", "alright", "--lambda", "0.5", "--steps", "3", "--learning-rate", "0.1",
                     "--out", root.appendingPathComponent("u.csv").path, "--max-memory", "1"], ["matrix-free", "d = 100000"])
    }

    /// The matrix-free solver (conjugate gradients on Hessian-vector products, the LP on the Gram matrix)
    /// finds the dense solver's optimum.
    @Test(arguments: [0.0, 0.05])
    func matrixFreeSolverAgreesWithTheDenseOne(_ weightDecay: Double) throws {
        let problem = try Problem(try Instance.random(RandomInstanceSpec(dimension: 40, outputs: 3, dpoCount: 6, sftCount: 7,
                                                                          weightDecay: weightDecay, seed: 9)))
        let dense = NewtonSolver()
        var free = NewtonSolver()
        free.memoryLimit = Limits.matrixFreeBytes(dimension: 40, forms: problem.linearFormCount)!  // below the dense need
        #expect(free.memoryLimit < Limits.denseBytes(dimension: 40, forms: problem.linearFormCount)!)
        for objective in [Objective.dpo, .sft, .mix(lambda: 0.3), .mix(lambda: 0.8)] {
            let a = try dense.minimize(problem, objective), b = try free.minimize(problem, objective)
            #expect(a.attained == b.attained, "\(objective)")
            #expect(abs(a.value - b.value) <= 1e-9 * max(1, abs(a.value)), "\(objective): \(a.value) vs \(b.value)")
            if a.attained { #expect(b.gradientNorm <= 1e-8, "\(objective): \(b.gradientNorm)") }
        }
        // Hessian-vector products equal the dense Hessian times v.
        var rng = Xoshiro256StarStar(seed: 2)
        let theta = (0..<40).map { _ in rng.gaussian() }, v = (0..<40).map { _ in rng.gaussian() }
        for objective in [Objective.dpo, .sft, .mix(lambda: 0.4)] {
            let h = problem.hessian(objective, at: theta), hv = problem.hessianVector(objective, at: theta, v)
            for r in 0..<40 {
                let expected = (0..<40).reduce(0.0) { $0 + h[r * 40 + $1] * v[$1] }
                #expect(abs(hv[r] - expected) <= 1e-12 * max(1, abs(expected)))
            }
        }
    }

    @Test func otherDeclaredSizes() throws {
        try refused(["instance", "random", "--dim", "4611686018427387904", "--outputs", "4", "--dpo", "4", "--sft", "4", "--out", "/tmp/never.json"], ["too large"])
        try refused(["front", "--instance", repositoryRoot.path + "/Experiments/instances/figure2.json", "--points", "100000000000", "--out", "/tmp/never.csv"], ["--points"])
        try refused(["verify", "theorem41", "--seeds", "100000000000"], ["--seeds"])
        let instance = try makeInstance(dpo: [([[1], [0]], 0, 1)], sft: [([[1], [0]], 0)])
        #expect(throws: FieldError.self) { try instance.with(reference: .fit(initial: [0], learningRate: 0.1, steps: 1_000_000_000_000)) }
    }
}

/// Bounded outputs and the messages that used to mislead (items 3 and 8).
@Suite struct OutputLimitTests {
    var figure2: String { repositoryRoot.appendingPathComponent(Figure2.instancePath).path }

    @Test func hugeRecordingsAreRefusedUpFront() throws {
        let root = try temporaryDirectory()
        let out = root.appendingPathComponent("big.csv").path
        let result = try runCLI(["train", "--instance", figure2, "--method", "alright", "--lambda", "0.5", "--steps", "100000000",
                                 "--learning-rate", "0.01", "--record", "all", "--out", out])
        #expect(result.status == 1 && result.stderr.contains("--max-output") && result.stderr.contains("MiB"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
        // A sweep counts the rows of all its runs.
        let yaml = root.appendingPathComponent("e.yaml")
        try "instances: [\(figure2)]\nmethods: [alright]\nlambdas: [0.5]\nsteps: [100000]\nseeds: {count: 100}\nschedules: [{name: constant, rate: 0.1}]\nrecord: all\n"
            .write(to: yaml, atomically: true, encoding: .utf8)
        let sweep = try runCLI(["sweep", yaml.path, "--out", root.appendingPathComponent("s").path, "--max-output", "100"])
        #expect(sweep.status == 1 && sweep.stderr.contains("--max-output is 100 MiB"), "\(sweep.stderr)")
    }

    /// The estimate bounds the rows a run really records, for every mode.
    @Test func rowEstimateBoundsTheRows() async throws {
        let problem = try figure2Problem()
        let trainer = Trainer(problem: problem, optima: try OptimalValues(problem: problem, lambda: 0.5))
        await propertyCheck(count: 40, input: Gen.int(in: 1...30_000), Gen.int(in: 0...3), Gen.int(in: 1...500)) { steps, mode, n in
            let record: RecordMode = [.all, .log, .every(n), .final][mode]
            var rows = 0
            _ = trainer.run(RunSpec(method: .alright, lambda: 0.5, steps: steps, schedule: .constant(0.01), record: record)) { _ in rows += 1 }
            #expect(rows <= record.maximumRows(steps: steps), "\(record) \(steps): \(rows) rows")
        }
    }

    @Test func misleadingMessagesAreFixed() throws {
        let root = try temporaryDirectory()
        // --out naming a directory fails before the work, even with --force.
        let result = try runCLI(["train", "--instance", figure2, "--method", "alright", "--lambda", "0.5", "--steps", "5",
                                 "--learning-rate", "0.1", "--out", root.path, "--force"])
        #expect(result.status == 1 && result.stderr.contains("is a directory"), "\(result.stderr)")
        // A reference fit that diverges is refused, naming the file and the field.
        var text = try String(contentsOfFile: figure2, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"learningRate\": 0.01", with: "\"learningRate\": 1e306")
        let bad = root.appendingPathComponent("fit.json").path
        try text.write(toFile: bad, atomically: true, encoding: .utf8)
        let fit = try runCLI(["eval", "--instance", bad, "--theta", "0,0"])
        #expect(fit.status == 1 && fit.stderr.contains("fit.json") && fit.stderr.contains("reference.fit: diverges"), "\(fit.stderr)")
        // A missing manifest is one plain line.
        let merge = try runCLI(["merge", root.appendingPathComponent("m").path, root.appendingPathComponent("nothing").path])
        #expect(merge.status == 1 && merge.stderr.split(separator: "\n").count == 1 && !merge.stderr.contains("NSError")
                && merge.stderr.contains("experiment.json"), "\(merge.stderr)")
    }
}

/// Generated malformed experiment files (item 9): each is refused with a FieldError naming the file (or
/// parses into a spec whose grid can be counted), never a crash, within the time limit.
@Suite struct ExperimentFuzzTests {
    static let valid = """
    name: fuzz
    instances: [random-a.json]
    methods: [alright, sequential, maxright-stale]
    lambdas: [0.1, 0.5]
    steps: [10, 100]
    seeds: {from: 0, count: 3}
    schedules: [{name: inverse-sqrt, rate: 0.5}]
    batch: [full, 2]
    evalEvery: [1, 5]
    sequential: {threshold: 0.05}
    record: final

    """

    static let replacements = ["", "-1", "0", "1e400", ".nan", "-.inf", "[]", "{}", "null", "true", "'x'", "[1, [2]]",
                               "{from: -1, count: 2}", "{count: 1e300}", "18446744073709551616", "&a [*a]", "*missing",
                               "!!binary aGVsbG8=", "[\"\\ud800\"]", "{name: constant}", "[{name: constant, rate: 0, extra: 1}]",
                               "every:0", "steps:3,2", "\u{FEFF}", "\t", "'", "{a: 1, a: 2}"]

    @Test func mutatedExperimentsAreRefusedOrParsed() async throws {
        let root = try temporaryDirectory()
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json"),
                                         to: root.appendingPathComponent("random-a.json"))
        let file = root.appendingPathComponent("e.yaml").path
        let lines = Self.valid.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        await propertyCheck(count: 400, input: Gen.int(in: 0..<lines.count), Gen.int(in: 0..<Self.replacements.count),
                            Gen.int(in: 0...3)) { line, replacement, mode in
            var mutated = lines
            let key = mutated[line].split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            switch mode {
            case 0: mutated[line] = key + ": " + Self.replacements[replacement]      // a bad value
            case 1: mutated[line] = Self.replacements[replacement] + mutated[line]  // a prefix
            case 2: mutated.insert(mutated[line], at: line)                          // a duplicate key
            default: mutated[line] = String(mutated[line].prefix(replacement))       // a truncation
            }
            let text = mutated.joined(separator: "\n")
            let started = Date()
            do throws(FieldError) {
                let spec = try ExperimentSpec.parse(text, file: file)
                #expect(spec.runCount != nil)
            } catch {
                #expect(error.file == file && !error.description.contains("\n"), "\(text): \(error)")
            }
            #expect(Date().timeIntervalSince(started) < 2, "\(text)")
        }
    }

    /// Through the command line a sample of them give exit 1 and one line naming the file.
    @Test func mutatedExperimentsThroughTheCLI() throws {
        let root = try temporaryDirectory()
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json"),
                                         to: root.appendingPathComponent("random-a.json"))
        for (k, replacement) in Self.replacements.enumerated() {
            let file = root.appendingPathComponent("e\(k).yaml").path
            try Self.valid.replacingOccurrences(of: "lambdas: [0.1, 0.5]", with: "lambdas: " + replacement)
                .write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runCLI(["sweep", file, "--out", root.appendingPathComponent("out\(k)").path])
            #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1 && result.stderr.contains("e\(k).yaml"),
                    "\(replacement): \(result.status) \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("out\(k)").path))
        }
    }
}

/// Found by the adversarial pass: step counts at Int.max overflowed in the estimates.
@Suite struct OverflowTests {
    @Test func stepCountsAtIntMaxAreRefusedNotCrashed() throws {
        let root = try temporaryDirectory()
        let train = try runCLI(["train", "--instance", repositoryRoot.path + "/Experiments/instances/random-a.json", "--method", "alright",
                                "--lambda", "0.5", "--steps", "\(Int.max)", "--learning-rate", "0.1", "--record", "every:1",
                                "--out", root.appendingPathComponent("t.csv").path])
        #expect(train.status == 1 && train.stderr.contains("--max-output"), "\(train.stderr)")
        let verify = try runCLI(["verify", "theorem33", "--lambdas", "0.5", "--horizons", "\(Int.max)", "--alright-steps", "10"])
        #expect(verify.status == 1 && verify.stderr.contains("--horizons"), "\(verify.stderr)")
        #expect(RecordMode.every(1).maximumRows(steps: Int.max) == Int.max && RecordMode.every(3).nextStep(after: Int.max - 1) == Int.max)
        #expect(Method.sequential(SequentialPlan(dpoFirst: true, dpoSteps: Int.max, sftSteps: 5)).maximumSteps(horizon: 1) == Int.max)
    }
}

/// Found by the adversarial pass (second round): outputs never replace special files, stdout failures
/// count, --force never adopts foreign files, extreme scales are refused instead of printing NaN.
@Suite struct AdversarialFindingsTests {
    var figure2: String { repositoryRoot.appendingPathComponent(Figure2.instancePath).path }

    @Test func outputsNeverReplaceSpecialFiles() throws {
        let root = try temporaryDirectory()
        let fifo = root.appendingPathComponent("fifo").path, link = root.appendingPathComponent("link").path
        #expect(mkfifo(fifo, 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/nonexistent")
        for (target, reason) in [(fifo, "not a regular file"), (link, "symbolic link"), ("/dev/null", "not a regular file")] {
            let result = try runCLI(["train", "--instance", figure2, "--method", "alright", "--lambda", "0.5", "--steps", "3",
                                     "--learning-rate", "0.1", "--out", target, "--force"])
            #expect(result.status == 1 && result.stderr.contains(reason), "\(target): \(result.stderr)")
        }
        var status = stat()
        #expect(lstat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
        #expect(lstat(link, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK)
        let coins = root.appendingPathComponent("keep.txt")
        try "mine".write(to: coins, atomically: true, encoding: .utf8)
        let bench = try runCLI(["bench", "tiny", "--steps", "10", "--coins", coins.path])
        let kept = try String(contentsOf: coins, encoding: .utf8)
        #expect(bench.status == 1 && bench.stderr.contains("--coins") && kept == "mine", "\(bench.stderr)")
    }

    @Test func lostStandardOutputIsAFailure() throws {
        let process = Process()
        process.executableURL = forgettingExecutable()
        process.arguments = ["eval", "--instance", figure2, "--theta", "0,0"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1 && message.contains("standard output"), "\(message)")
    }

    @Test func forceNeverAdoptsForeignFiles() throws {
        let root = try temporaryDirectory()
        let foreign = root.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign.appendingPathComponent("parts"), withIntermediateDirectories: true)
        try "{\"my\": \"notes\"}".write(to: foreign.appendingPathComponent("experiment.json"), atomically: true, encoding: .utf8)
        try "keep".write(to: foreign.appendingPathComponent("parts/notes.txt"), atomically: true, encoding: .utf8)
        let yaml = root.appendingPathComponent("e.yaml")
        try "instances: [\(figure2)]\nmethods: [alright]\nlambdas: [0.5]\nsteps: [5]\nseeds: [0, 1]\nschedules: [{name: constant, rate: 0.1}]\n"
            .write(to: yaml, atomically: true, encoding: .utf8)
        let result = try runCLI(["sweep", yaml.path, "--out", foreign.path, "--force"])
        #expect(result.status == 1 && result.stderr.contains("experiment.json"), "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: foreign.appendingPathComponent("parts/notes.txt").path))
        // merge --force over a finished sweep drops that sweep's parts, so a later --resume cannot assemble them.
        let whole = root.appendingPathComponent("whole").path, shard = root.appendingPathComponent("s0").path
        #expect(try runCLI(["sweep", yaml.path, "--out", whole]).status == 0)
        #expect(try runCLI(["sweep", yaml.path, "--out", shard, "--shard", "0/1"]).status == 0)
        #expect(try runCLI(["merge", whole, shard, "--force"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: whole + "/parts"))
    }

    @Test func extremeScalesAreRefusedNotPrintedAsNaN() throws {
        let cases: [(String, String)] = [
            ("{\"featureBound\": 1e150, \"beta\": 0.5, \"reference\": {\"theta\": [0, 0]}, \"dpo\": [{\"features\": [[1, 0], [0, 1]], \"chosen\": 0, \"rejected\": 1}], \"sft\": [{\"features\": [[0, 1], [1, 0]], \"target\": 0}]}", "featureBound"),
            ("{\"featureBound\": 1, \"beta\": 0.5, \"reference\": {\"theta\": [1e200, 0]}, \"dpo\": [{\"features\": [[1, 0], [0, 1]], \"chosen\": 0, \"rejected\": 1}], \"sft\": [{\"features\": [[0, 1], [1, 0]], \"target\": 0}]}", "reference.theta"),
            ("{\"featureBound\": 1, \"beta\": 1e300, \"reference\": {\"theta\": [0, 0]}, \"dpo\": [{\"features\": [[1, 0], [0, 1]], \"chosen\": 0, \"rejected\": 1}], \"sft\": [{\"features\": [[0, 1], [1, 0]], \"target\": 0}]}", "beta"),
        ]
        for (text, field) in cases {
            #expect(throws: FieldError.self) { try InstanceFile.decode(Data(text.utf8)) }
            do { _ = try InstanceFile.decode(Data(text.utf8)) } catch { #expect(error.path == field, "\(error)") }
        }
    }
}

/// Found by the second adversarial pass: starts, references and rates outside the finite range.
@Suite struct SecondPassFindingsTests {
    @Test func outOfRangeStartsReferencesAndRatesAreRefused() throws {
        let randomA = repositoryRoot.path + "/Experiments/instances/random-a.json"
        let out = try temporaryDirectory().appendingPathComponent("t.csv").path
        let train = try runCLI(["train", "--instance", randomA, "--method", "alright", "--lambda", "0.5", "--steps", "5",
                                "--learning-rate", "0.1", "--init", "1e308,-1e308,0", "--out", out])
        #expect(train.status == 1 && train.stderr.contains("--init") && !FileManager.default.fileExists(atPath: out), "\(train.stderr)")
        let eval = try runCLI(["eval", "--instance", randomA, "--theta", "1e308,0,0"])
        #expect(eval.status == 1 && eval.stderr.contains("--theta"), "\(eval.stderr)")
        let fit = try makeInstance(dpo: [([[1, 0], [0, 1]], 0, 1)], sft: [([[0, 1], [1, 0]], 0)], bound: 1)
            .with(reference: .fit(initial: [0, 0], learningRate: 1e300, steps: 10))
        #expect(throws: FieldError.self) { try Problem(fit) }
        var theorem41 = Theorem41Verification()
        theorem41.alpha0 = 1e-320
        #expect(throws: ArgumentError.self) { try theorem41.validate() }
        #expect(throws: FieldError.self) {
            try makeInstance(dpo: [([[1, 0], [0, 1]], 0, 1)], sft: [([[0, 1], [1, 0]], 0)], beta: 1e30, bound: 1e30)
        }
    }
}
