import ConvexForgetting
import Foundation
import Testing

/// `forgetting train` and `forgetting figure2` as a user runs them.
@Suite struct TrainCommandTests {
    var figure2: String { repositoryRoot.appendingPathComponent("Experiments/instances/figure2.json").path }

    func train(_ extra: [String], out: String) throws -> CLIResult {
        try runCLI(["train", "--instance", figure2, "--lambda", "0.5", "--steps", "300", "--learning-rate", "0.05", "--out", out] + extra)
    }

    @Test func sameSeedSameBytesOtherSeedOtherPath() throws {
        let directory = try temporaryDirectory()
        let a = directory.appendingPathComponent("a.csv").path, b = directory.appendingPathComponent("b.csv").path
        let c = directory.appendingPathComponent("c.csv").path
        #expect(try train(["--method", "alright", "--seed", "7"], out: a).status == 0)
        #expect(try train(["--method", "alright", "--seed", "7"], out: b).status == 0)
        #expect(try train(["--method", "alright", "--seed", "8"], out: c).status == 0)
        let (da, db, dc) = (try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)),
                            try Data(contentsOf: URL(fileURLWithPath: c)))
        #expect(da == db)
        #expect(da != dc)
    }

    @Test func csvHasTheContractColumnsAndRows() throws {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("t.csv").path
        let result = try train(["--method", "mix", "--schedule", "inverse-sqrt"], out: out)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines[0] == "method,lambda,seed,step,objective,step_size,theta_0,theta_1,f_dpo,f_sft,gap_dpo,gap_sft,gap_mix,ideal_distance,grad_evals,loss_evals,f_mix,gap_max")
        #expect(lines.count == 302)  // header, step 0 and 300 updates (record all for <= 10,000 steps)
        let first = CSV.parseLine(lines[1]), second = CSV.parseLine(lines[2]), last = CSV.parseLine(lines[301])
        #expect(first[0] == "mix" && first[3] == "0" && first[4] == "init")
        #expect(second[4] == "mix" && Double(second[5]) == 0.05)
        #expect(Double(last[5]) == 0.05 / 300.0.squareRoot() && last[14] == "600")
        // The update identity from the parsed text: shortest round-trip numbers parse back exactly.
        let problem = try Problem(try InstanceFile.load(path: figure2))
        let theta0 = [Double(first[6])!, Double(first[7])!]
        let g = problem.gradient(.mix(lambda: 0.5), at: theta0)
        #expect(Double(second[6])! == theta0[0] - 0.05 * g[0] && Double(second[7])! == theta0[1] - 0.05 * g[1])
    }

    @Test(arguments: [
        (["--method", "adam"], "--method"),
        (["--method", "alright", "--schedule", "cosine"], "--schedule"),
        (["--method", "alright", "--lambda", "1.2"], "--lambda"),
        (["--method", "alright", "--steps", "0"], "--steps"),
        (["--method", "alright", "--batch", "0"], "--batch"),
        (["--method", "alright", "--learning-rate", "-0.1"], "--learning-rate"),
        (["--method", "alright", "--learning-rate", "nan"], "--learning-rate"),
        (["--method", "maxright-stale", "--eval-every", "0"], "--eval-every"),
        (["--method", "alright", "--record", "sometimes"], "--record"),
        (["--method", "alright", "--init", "1,2,3"], "--init"),
    ])
    func badFlagsFailBeforeWork(_ flags: [String], _ named: String) throws {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("t.csv").path
        // Later flags win in ArgumentParser? No: repeated options are an error; so the base run omits them.
        var arguments = ["train", "--instance", figure2, "--out", out]
        for (flag, value) in [("--lambda", "0.5"), ("--steps", "10"), ("--learning-rate", "0.1")] where !flags.contains(flag) {
            arguments += [flag, value]
        }
        let result = try runCLI(arguments + flags)
        #expect(result.status != 0)
        #expect(result.stderr.contains(named), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func outputRules() throws {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("t.csv").path
        #expect(try train(["--method", "alright"], out: out).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        // No overwrite without --force; the file is untouched.
        let refused = try train(["--method", "mix"], out: out)
        #expect(refused.status != 0 && refused.stderr.contains("--force"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == before)
        #expect(try train(["--method", "mix", "--force"], out: out).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) != before)
        // A directory that does not exist.
        let missing = try train(["--method", "mix"], out: "/nonexistent/dir/t.csv")
        #expect(missing.status != 0 && missing.stderr.contains("--out") && missing.stderr.contains("does not exist"))
    }

    /// Killed mid-run, `train` leaves nothing under the final name.
    @Test func interruptedRunLeavesNoTruncatedFile() throws {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("long.csv").path
        let process = Process()
        process.executableURL = forgettingExecutable()
        process.arguments = ["train", "--instance", figure2, "--method", "alright", "--lambda", "0.5", "--steps", "20000000",
                             "--learning-rate", "0.01", "--record", "all", "--max-output", "100000", "--out", out]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGKILL)  // SIGTERM may be blocked by the test runner
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func figure2WritesItsFilesAndTheOutcome() throws {
        let directory = try temporaryDirectory().appendingPathComponent("figure2").path
        let result = try runCLI(["figure2", "--out", directory, "--no-plot", "--record", "log"])
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["trajectories.csv", "landscape.csv", "pareto.csv", "summary.csv", "manifest.json"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + name), "\(name)")
        }
        let summary = try String(contentsOfFile: directory + "/summary.csv", encoding: .utf8).split(separator: "\n").map { CSV.parseLine($0) }
        // summary.csv has the sweep's run-summary schema: columns by name.
        let column = summary[0].firstIndex(of: "ideal_distance")!, method = summary[0].firstIndex(of: "method")!
        #expect(summary[0] == RunTable.summary(dimension: 2).columns)
        let distance = Dictionary(uniqueKeysWithValues: summary.dropFirst().map { ($0[method], Double($0[column])!) })
        #expect(distance["sequential"]! >= 3 * distance["alright"]! && distance["sequential"]! >= 3 * distance["maxright"]!)
        #expect(result.stdout.contains("sequential") && result.stdout.contains("ideal_distance"))
        // The Pareto front: lambda from 0 to 1, every minimizer attained (weight decay), f_DPO falling as lambda grows.
        let pareto = try String(contentsOfFile: directory + "/pareto.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { CSV.parseLine($0) }
        #expect(pareto.count == 101 && pareto.allSatisfy { $0.last == "true" })
        let fDPO = pareto.map { Double($0[3])! }
        #expect(zip(fDPO, fDPO.dropFirst()).allSatisfy { $0.1 <= $0.0 + 1e-12 })
        // Existing outputs are not overwritten without --force.
        let again = try runCLI(["figure2", "--out", directory, "--no-plot"])
        #expect(again.status != 0 && again.stderr.contains("--force"))
    }
}
