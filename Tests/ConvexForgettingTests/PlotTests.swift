import Foundation
import Testing

/// The plotting scripts render the CSVs they are documented to read (when a Python with matplotlib is
/// there: `bash .ci/setup --plots` makes one in .venv, and CI runs it).
/// .venv/bin/python3 when it imports matplotlib.
let plottingPython: String? = {
        let candidate = repositoryRoot.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: candidate)
        p.arguments = ["-c", "import matplotlib"]
        try? p.run()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? candidate : nil
}()

@Suite(.enabled(if: plottingPython != nil, "needs .venv with matplotlib (bash .ci/setup --plots)"))
struct PlotTests {

    func isPNG(_ path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return data.starts(with: [0x89, 0x50, 0x4E, 0x47])
    }

    func script(_ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: plottingPython!)
        p.arguments = arguments
        p.currentDirectoryURL = repositoryRoot
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test func figure2DrawsItsPicture() throws {
        let directory = try temporaryDirectory().appendingPathComponent("f2").path
        let result = try runCLI(["figure2", "--out", directory, "--record", "every:50"], in: repositoryRoot)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(isPNG(directory + "/figure2.png") && FileManager.default.fileExists(atPath: directory + "/figure2.pdf"))
    }

    /// A shipped experiment with shorter horizons, instances resolved against the repository.
    func reduced(_ name: String, steps: String, in root: URL) throws -> String {
        var text = try String(contentsOf: repositoryRoot.appendingPathComponent("Experiments/\(name).yaml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "instances/", with: repositoryRoot.path + "/Experiments/instances/")
        text = text.split(separator: "\n").map { $0.hasPrefix("steps:") ? "steps: \(steps)" : String($0) }.joined(separator: "\n")
        let file = root.appendingPathComponent("\(name).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @Test func sweepPicturesRender() throws {
        let root = try temporaryDirectory()
        let plots = repositoryRoot.appendingPathComponent("Plots").path
        // Reduced versions of the shipped experiments.
        let t33 = root.appendingPathComponent("t33").path
        #expect(try runCLI(["sweep", try reduced("theorem33", steps: "[10, 100, 1000]", in: root), "--out", t33]).status == 0)
        #expect(try runCLI(["verify", "theorem33", "--lambdas", "0.1,0.5,0.9", "--horizons", "10,100,1000",
                            "--alright-steps", "1000", "--csv", t33 + "/floors.csv"], in: repositoryRoot).status == 0)
        #expect(try script([plots + "/theorem33.py", t33, t33 + "/floors.csv"]) == 0)
        #expect(isPNG(t33 + "/theorem33.png"))

        let t41 = root.appendingPathComponent("t41").path
        let yaml = root.appendingPathComponent("t41.yaml")
        try """
        instances: [\(repositoryRoot.path)/Experiments/instances/lower-bound.json]
        methods: [alright]
        lambdas: [0.5]
        steps: [10, 100]
        seeds: {count: 3}
        schedules: [{name: inverse-sqrt, rate: 0.5}]
        """.write(to: yaml, atomically: true, encoding: .utf8)
        #expect(try runCLI(["sweep", yaml.path, "--out", t41]).status == 0)
        #expect(try runCLI(["verify", "theorem41", "--seeds", "3", "--lambdas", "0.5", "--horizons", "10,100",
                            "--instance", repositoryRoot.path + "/Experiments/instances/lower-bound.json", "--csv", t41 + "/bounds.csv"]).status == 0)
        #expect(try script([plots + "/theorem41.py", t41, t41 + "/bounds.csv"]) == 0)
        #expect(isPNG(t41 + "/theorem41.png"))

        let pareto = root.appendingPathComponent("pareto").path
        #expect(try runCLI(["sweep", try reduced("pareto", steps: "[300]", in: root), "--out", pareto]).status == 0)
        #expect(try runCLI(["front", "--instance", "Experiments/instances/overparameterized.json", "--points", "21",
                            "--out", pareto + "/front.csv"], in: repositoryRoot).status == 0)
        #expect(try script([plots + "/pareto.py", pareto, pareto + "/front.csv"]) == 0)
        #expect(isPNG(pareto + "/pareto.png"))

        let k = root.appendingPathComponent("k").path
        #expect(try runCLI(["sweep", try reduced("maxright-k", steps: "[2000]", in: root), "--out", k]).status == 0)
        #expect(try script([plots + "/maxright_k.py", k]) == 0)
        #expect(isPNG(k + "/maxright-k.png"))
    }
}
