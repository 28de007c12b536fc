import ConvexForgetting
import Foundation
import Testing

/// Instances as directories of .npy arrays: round trip, the same validation as JSON, and the benchmark
/// harness agreeing with the NumPy baseline.
@Suite struct NPYTests {
    func makeDirectory(seed: UInt64 = 3) throws -> (Instance, String) {
        let instance = try Instance.random(RandomInstanceSpec(dimension: 4, outputs: 3, dpoCount: 5, sftCount: 6, beta: 0.7, seed: seed))
        let directory = try temporaryDirectory().appendingPathComponent("inst").path
        try NPYInstance.write(instance, to: directory)
        return (instance, directory)
    }

    @Test func roundTrip() throws {
        let (instance, directory) = try makeDirectory()
        #expect(try InstanceLoader.load(path: directory) == instance)
        // And the CLI takes the directory wherever it takes a file.
        let result = try runCLI(["check", "--instance", directory, "--points", "3"])
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// Overwrites one array file with `values` (float64) or `integers` (int64).
    func replace(_ directory: String, _ name: String, doubles: [Double]? = nil, integers: [Int]? = nil, shape: [Int]) throws {
        let path = directory + "/" + name + ".npy"
        if let doubles { try NPY.write(doubles, shape: shape, to: path) }
        if let integers { try NPY.write(integers, shape: shape, to: path) }
    }

    @Test func badArraysAreRefused() throws {
        var cases: [(String, (String) throws -> Void, [String])] = []
        cases.append(("wrong dtype", { try NPY.write([UInt8](repeating: 0, count: 5), shape: [5], to: $0 + "/dpo_chosen.npy") }, ["dpo_chosen.npy", "dtype"]))
        cases.append(("shape mismatch", { try self.replace($0, "sft_targets", integers: [0, 1, 2], shape: [3]) }, ["sft_targets.npy", "shape"]))
        cases.append(("NaN", { dir in
            var (values, shape) = try NPY.readDoubles(dir + "/dpo_features.npy")
            values[7] = .nan
            try self.replace(dir, "dpo_features", doubles: values, shape: shape)
        }, ["dpo[0].features[1]", "non-finite"]))
        cases.append(("norm above the bound", { dir in
            var (values, shape) = try NPY.readDoubles(dir + "/sft_features.npy")
            values[0] = 5
            try self.replace(dir, "sft_features", doubles: values, shape: shape)
        }, ["sft[0].features[0]", "featureBound"]))
        cases.append(("index out of range", { dir in
            var (values, shape) = try NPY.readIntegers(dir + "/dpo_rejected.npy")
            values[3] = 7
            try self.replace(dir, "dpo_rejected", integers: values, shape: shape)
        }, ["dpo[3].rejected", "out of range"]))
        cases.append(("truncated file", { dir in
            let path = dir + "/sft_features.npy"
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            try data.prefix(data.count - 16).write(to: URL(fileURLWithPath: path))
        }, ["sft_features.npy", "truncated"]))
        cases.append(("missing scalar key", { dir in
            try "{\"featureBound\": 1, \"reference\": {\"theta\": [0, 0, 0, 0]}}".write(toFile: dir + "/instance.json", atomically: true, encoding: .utf8)
        }, ["instance.json", "beta", "missing"]))
        for (what, damage, fragments) in cases {
            let (_, directory) = try makeDirectory()
            try damage(directory)
            let result = try runCLI(["check", "--instance", directory])
            #expect(result.status != 0, "\(what)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(what): \(result.stderr)")
            for fragment in fragments {
                #expect(result.stderr.contains(fragment), "\(what): '\(fragment)' missing from \(result.stderr)")
            }
        }
    }

    @Test func benchRunsOnATinyCase() throws {
        let result = try runCLI(["bench", "tiny", "--steps", "500", "--repeats", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let perStep = (json["secondsPerStep"] as! NSNumber).doubleValue
        #expect(perStep > 0 && perStep.isFinite)
        #expect((json["result"] as! [NSNumber]).count == 3)
    }

    /// The NumPy baseline takes the same steps from the same files and coins and ends at the same theta.
    @Test(.enabled(if: numpyPython != nil, "needs a python3 with numpy"))
    func numpyBaselineAgrees() throws {
        let (_, directory) = try makeDirectory(seed: 8)
        let coins = try temporaryDirectory().appendingPathComponent("coins.npy").path
        let swift = try runCLI(["bench", "large", "--instance", directory, "--steps", "300", "--repeats", "1", "--coins", coins, "--json"])
        #expect(swift.status == 0, "\(swift.stderr)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: numpyPython!)
        process.arguments = [repositoryRoot.path + "/Experiments/bench/baselines.py", "alright", directory, "--impl", "numpy",
                             "--steps", "300", "--rate", "0.1", "--coins", coins]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let a = (try JSONSerialization.jsonObject(with: Data(swift.stdout.utf8)) as! [String: Any])["result"] as! [NSNumber]
        let b = (try JSONSerialization.jsonObject(with: output) as! [String: Any])["result"] as! [NSNumber]
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(abs(x.doubleValue - y.doubleValue) <= 1e-9 * max(1, abs(x.doubleValue))) }
    }
}

/// A python3 that imports numpy: the bench venv, the plotting venv, or the system's.
let numpyPython: String? = {
    for candidate in [repositoryRoot.path + "/.venv-bench/bin/python3", repositoryRoot.path + "/.venv/bin/python3", "/usr/bin/python3", "/usr/local/bin/python3"] {
        guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: candidate)
        p.arguments = ["-c", "import numpy"]
        p.standardError = FileHandle.nullDevice
        try? p.run()
        p.waitUntilExit()
        if p.terminationStatus == 0 { return candidate }
    }
    return nil
}()
