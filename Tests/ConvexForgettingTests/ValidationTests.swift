import ConvexForgetting
import Foundation
import Testing

/// Every instance validation rule: the bad file is fed to `forgetting check`, which must exit non-zero with
/// one line on stderr naming the file, the field and the problem.
@Suite struct ValidationTests {
    static let valid = """
    { "name": "example", "featureBound": 1.0, "beta": 0.5, "weightDecay": 0.0,
      "reference": { "theta": [0.1, -0.2] },
      "dpo": [ { "features": [[1, 0], [0, 1]], "chosen": 0, "rejected": 1 } ],
      "sft": [ { "features": [[0, 1], [1, 0], [0.5, 0.5]], "target": 0 } ] }
    """

    /// (what is wrong, the file text, fragments the one-line message must contain)
    static let cases: [(String, String, [String])] = [
        ("malformed JSON", "{ \"name\": ", ["malformed JSON", "line 1"]),
        ("missing key", valid.replacingOccurrences(of: "\"beta\": 0.5,", with: ""), ["beta", "missing required key"]),
        ("unknown key", valid.replacingOccurrences(of: "\"beta\": 0.5,", with: "\"beta\": 0.5, \"gamma\": 1,"), ["gamma", "unknown key"]),
        ("unknown datum key", valid.replacingOccurrences(of: "\"target\": 0", with: "\"target\": 0, \"label\": 1"), ["sft[0].label", "unknown key"]),
        ("empty DPO data", valid.replacingOccurrences(of: "[ { \"features\": [[1, 0], [0, 1]], \"chosen\": 0, \"rejected\": 1 } ]", with: "[]"), ["dpo", "at least one datum"]),
        ("empty SFT data", valid.replacingOccurrences(of: "[ { \"features\": [[0, 1], [1, 0], [0.5, 0.5]], \"target\": 0 } ]", with: "[]"), ["sft", "at least one datum"]),
        ("ragged features", valid.replacingOccurrences(of: "[[1, 0], [0, 1]]", with: "[[1, 0], [0, 1, 0]]"), ["dpo[0].features[1]", "length 3"]),
        ("mismatched dimensions", valid.replacingOccurrences(of: "[[0, 1], [1, 0], [0.5, 0.5]]", with: "[[0, 1, 0], [1, 0, 0]]"), ["sft[0].features[0]", "length 3"]),
        ("reference of the wrong length", valid.replacingOccurrences(of: "[0.1, -0.2]", with: "[0.1]"), ["reference.theta", "length 1"]),
        ("fewer than 2 outputs", valid.replacingOccurrences(of: "[[0, 1], [1, 0], [0.5, 0.5]], \"target\": 0", with: "[[0, 1]], \"target\": 0"), ["sft[0].features", "at least 2 outputs"]),
        ("NaN", valid.replacingOccurrences(of: "[[1, 0], [0, 1]]", with: "[[1, NaN], [0, 1]]"), ["dpo[0].features[0][1]", "finite"]),
        ("infinity", valid.replacingOccurrences(of: "[0.1, -0.2]", with: "[Infinity, -0.2]"), ["reference.theta[0]", "finite"]),
        ("overflowing number", valid.replacingOccurrences(of: "\"beta\": 0.5", with: "\"beta\": 1e999"), ["beta", "finite"]),
        ("feature norm above the bound", valid.replacingOccurrences(of: "[[1, 0], [0, 1]]", with: "[[1, 0.5], [0, 1]]"), ["dpo[0].features[0]", "above featureBound", "Assumption 3.2"]),
        ("chosen equals rejected", valid.replacingOccurrences(of: "\"rejected\": 1", with: "\"rejected\": 0"), ["dpo[0].rejected", "equals chosen"]),
        ("chosen out of range", valid.replacingOccurrences(of: "\"chosen\": 0", with: "\"chosen\": 2"), ["dpo[0].chosen", "out of range"]),
        ("target out of range", valid.replacingOccurrences(of: "\"target\": 0", with: "\"target\": -1"), ["sft[0].target", "out of range"]),
        ("fractional index", valid.replacingOccurrences(of: "\"target\": 0", with: "\"target\": 0.5"), ["sft[0].target", "integer"]),
        ("beta zero", valid.replacingOccurrences(of: "\"beta\": 0.5", with: "\"beta\": 0"), ["beta", "> 0"]),
        ("negative weight decay", valid.replacingOccurrences(of: "\"weightDecay\": 0.0", with: "\"weightDecay\": -0.1"), ["weightDecay", ">= 0"]),
        ("non-positive learning rate", valid.replacingOccurrences(of: "{ \"theta\": [0.1, -0.2] }", with: "{ \"fit\": {\"init\": [0, 0], \"learningRate\": 0, \"steps\": 10} }"), ["reference.fit.learningRate", "> 0"]),
        ("non-positive step count", valid.replacingOccurrences(of: "{ \"theta\": [0.1, -0.2] }", with: "{ \"fit\": {\"init\": [0, 0], \"learningRate\": 0.1, \"steps\": 0} }"), ["reference.fit.steps", "> 0"]),
        ("both reference forms", valid.replacingOccurrences(of: "{ \"theta\": [0.1, -0.2] }", with: "{ \"theta\": [0, 0], \"fit\": {\"init\": [0, 0], \"learningRate\": 0.1, \"steps\": 1} }"), ["reference", "exactly one"]),
        ("string for a number", valid.replacingOccurrences(of: "\"beta\": 0.5", with: "\"beta\": \"0.5\""), ["beta", "must be a number"]),
        ("duplicate key", valid.replacingOccurrences(of: "\"beta\": 0.5", with: "\"beta\": 0.5, \"beta\": 0.6"), ["duplicate key"]),
    ]

    @Test func theValidFileIsAccepted() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("valid.json")
        try Self.valid.write(to: file, atomically: true, encoding: .utf8)
        let result = try runCLI(["check", "--instance", file.path, "--points", "3"])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test(arguments: 0..<cases.count)
    func badFileIsRefused(_ index: Int) throws {
        let (what, text, fragments) = Self.cases[index]
        #expect(text != Self.valid, "the case '\(what)' did not change the file")
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("bad.json")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let result = try runCLI(["check", "--instance", file.path])
        #expect(result.status != 0, "\(what): exit status 0")
        #expect(result.stdout.isEmpty, "\(what): printed \(result.stdout)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(what): \(result.stderr)")
        #expect(result.stderr.contains(file.path), "\(what): file not named in \(result.stderr)")
        for fragment in fragments {
            #expect(result.stderr.contains(fragment), "\(what): '\(fragment)' missing from \(result.stderr)")
        }
    }

    @Test func missingFileIsRefused() throws {
        let result = try runCLI(["eval", "--instance", "/nonexistent/instance.json", "--theta", "0,0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent/instance.json") && result.stderr.contains("cannot read"))
    }

    /// Round trip: encode then decode gives the same instance.
    @Test func encodeDecodeRoundTrip() throws {
        let instance = try Instance.random(RandomInstanceSpec(dimension: 3, outputs: 4, dpoCount: 5, sftCount: 6,
                                                              featureBound: 2, beta: 0.7, weightDecay: 0.01, seed: 9))
        let decoded = try InstanceFile.decode(Data(InstanceFile.encode(instance).utf8))
        #expect(decoded == instance)
    }
}
