import ConvexForgetting
import Foundation
import Testing

/// `forgetting optimum --objective max` and `forgetting verify maxright` as a user runs them.
@Suite struct MaxGapCommandTests {
    func file(_ name: String) -> String { repositoryRoot.appendingPathComponent("Experiments/instances/\(name).json").path }

    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func optimumMaxPrintsTheLibrarysOptimum() throws {
        let result = try runCLI(["optimum", "--instance", file("lower-bound"), "--objective", "max", "--lambda", "0.5", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try object(result.stdout)
        #expect(Set(json.keys) == ["value", "theta", "gradientNorm", "attained", "iterations", "weight", "weightedGapDPO",
                                   "weightedGapSFT", "meeting"])
        let problem = try Problem(try InstanceFile.load(path: file("lower-bound")))
        let m = try OptimalValues(problem: problem, lambda: 0.5).maxGap
        // (Foundation's JSON reader may round the last digit.)
        #expect(close((json["value"] as! NSNumber).doubleValue, m.value, 1e-14))
        #expect(close((json["weight"] as! NSNumber).doubleValue, m.weight, 1e-14))
        #expect(json["attained"] as? Bool == true && json["meeting"] as? String == "balanced")
        // The plain text names it and says where the gaps meet.
        let text = try runCLI(["optimum", "--instance", file("lower-bound"), "--objective", "max", "--lambda", "1"])
        #expect(text.status == 0 && text.stdout.contains("infimum:") && text.stdout.contains("dpo-end"), "\(text.stdout)")
    }

    @Test(arguments: [
        (["optimum", "--objective", "max"], "--lambda"),
        (["optimum", "--objective", "max", "--lambda", "2"], "--lambda"),
        (["optimum", "--objective", "sft", "--lambda", "0.5"], "--lambda"),
    ])
    func badOptimumFlagsNameTheFlag(_ arguments: [String], _ flag: String) throws {
        let result = try runCLI(arguments + ["--instance", file("lower-bound")])
        #expect(result.status == 1 && result.stdout.isEmpty && result.stderr.contains(flag), "\(result.stderr)")
    }

    @Test func verifyMaxrightPassesAndWritesItsCSV() throws {
        let csv = try temporaryDirectory().appendingPathComponent("maxright.csv").path
        let result = try runCLI(["verify", "maxright", "--instance", file("random-b"), "--lambdas", "0.3,0.7",
                                 "--horizons", "10,100,1000,10000,100000", "--csv", csv])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("proves no convergence") && result.stdout.contains("2 (instance, lambda) rows, 0 failed"))
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 + 2 * 5 && lines[0].hasPrefix("instance,lambda,horizon,gap_max,gap_mix"))
        // A tolerance no run can meet fails with status 1.
        let strict = try runCLI(["verify", "maxright", "--instance", file("random-b"), "--lambdas", "0.3",
                                 "--horizons", "10,100,1000", "--tolerance", "1e-30"])
        #expect(strict.status == 1 && strict.stderr.contains("MAXRIGHT check failed"), "\(strict.stderr)")
    }

    @Test(arguments: [
        (["--lambdas", "0"], "--lambdas"), (["--horizons", "100"], "--horizons"), (["--tolerance", "0"], "--tolerance"),
        (["--alpha0", "-1"], "--alpha0"),
    ])
    func badVerifyFlagsNameTheFlag(_ arguments: [String], _ flag: String) throws {
        let result = try runCLI(["verify", "maxright"] + arguments)
        #expect(result.status == 1 && result.stdout.isEmpty && result.stderr.contains(flag), "\(result.stderr)")
    }
}
