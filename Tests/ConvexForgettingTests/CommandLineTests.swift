import ConvexForgetting
import Foundation
import Testing

/// The `eval`, `optimum`, `check` and `instance random` commands as a user runs them.
@Suite struct CommandLineTests {
    var example: String { repositoryRoot.appendingPathComponent("Experiments/instances/example.json").path }

    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func evalPrintsTheContractKeys() throws {
        let plain = try runCLI(["eval", "--instance", example, "--theta", "-1.2,0.5", "--json"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let keys = ["thetaRef", "fDPO", "fSFT", "gradDPO", "gradSFT", "hessianDPO", "hessianSFT", "minEigenvalueDPO", "minEigenvalueSFT"]
        #expect(Set(try object(plain.stdout).keys) == Set(keys))
        let mix = try runCLI(["eval", "--instance", example, "--theta=-1.2,0.5", "--lambda", "0.5", "--json"])
        let json = try object(mix.stdout)
        #expect(Set(json.keys) == Set(keys + ["fMix", "gradMix", "hessianMix", "minEigenvalueMix"]))
        // f_mix is the lambda-weighted sum, and theta_ref is the file's.
        let f = { (key: String) in (json[key] as! NSNumber).doubleValue }
        #expect(close(f("fMix"), 0.5 * f("fDPO") + 0.5 * f("fSFT")))
        #expect((json["thetaRef"] as! [NSNumber]).map(\.doubleValue) == [0.1, -0.2])
        #expect((json["hessianDPO"] as! [[NSNumber]]).count == 2)
    }

    @Test func evalAndOptimumAgreeWithTheLibrary() throws {
        let problem = try Problem(try InstanceFile.load(path: example))
        let result = try runCLI(["optimum", "--instance", example, "--objective", "mix", "--lambda", "0.5", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try object(result.stdout)
        #expect(Set(json.keys) == ["value", "theta", "gradientNorm", "attained", "iterations"])
        #expect(json["attained"] as? Bool == true)
        let theta = (json["theta"] as! [NSNumber]).map(\.doubleValue)
        #expect(close((json["value"] as! NSNumber).doubleValue, problem.value(.mix(lambda: 0.5), at: theta)))
        #expect((json["gradientNorm"] as! NSNumber).doubleValue <= 1e-9)
        let dpo = try object(try runCLI(["optimum", "--instance", example, "--objective", "dpo", "--json"]).stdout)
        #expect(dpo["attained"] as? Bool == false)
    }

    @Test(arguments: [
        (["eval", "--theta", "0,0,0"], "--theta"),
        (["eval", "--theta", "0,abc"], "--theta"),
        (["eval", "--theta", "0,0", "--lambda", "1.5"], "--lambda"),
        (["optimum", "--objective", "kl"], "--objective"),
        (["optimum", "--objective", "mix"], "--lambda"),
        (["optimum", "--objective", "mix", "--lambda", "-0.1"], "--lambda"),
        (["check", "--points", "1"], "--points"),
    ])
    func badFlagsNameTheFlag(_ arguments: [String], _ flag: String) throws {
        let result = try runCLI(arguments + ["--instance", example])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(flag), "\(result.stderr)")
    }

    @Test func checkPassesOnARandomInstanceAndInstanceRandomRespectsTheBound() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("random.json").path
        let made = try runCLI(["instance", "random", "--dim", "5", "--outputs", "4", "--dpo", "7", "--sft", "6",
                               "--bound", "2", "--beta", "0.3", "--seed", "3", "--out", file])
        #expect(made.status == 0, "\(made.stderr)")
        let instance = try InstanceFile.load(path: file)
        #expect(instance.dimension == 5 && instance.dpoFeatures.count == 7 && instance.sftFeatures.count == 6)
        for table in [instance.dpoFeatures, instance.sftFeatures] {
            for i in 0..<table.count {
                for j in 0..<table.outputCount(i) { #expect(norm(Array(table.feature(i, j))) <= 2) }
            }
        }
        // No overwrite without --force.
        let again = try runCLI(["instance", "random", "--dim", "5", "--outputs", "4", "--dpo", "7", "--sft", "6", "--out", file])
        #expect(again.status != 0 && again.stderr.contains("--force"))
        let check = try runCLI(["check", "--instance", file, "--points", "5"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("Prop. A.2") && check.stdout.contains("all 6 claims hold"))
    }
}
