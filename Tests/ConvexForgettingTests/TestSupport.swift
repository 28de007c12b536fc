import ConvexForgetting
import Foundation

/// Builds a validated instance from nested arrays (test shorthand).
func makeInstance(dpo: [([[Double]], Int, Int)], sft: [([[Double]], Int)], beta: Double = 0.5,
                  weightDecay: Double = 0, bound: Double = 10, thetaRef: [Double]? = nil) throws -> Instance {
    let d = dpo.first?.0.first?.count ?? sft.first!.0.first!.count
    return try Instance(
        name: "test", featureBound: bound, beta: beta, weightDecay: weightDecay,
        reference: .theta(thetaRef ?? [Double](repeating: 0, count: d)),
        dpoFeatures: FeatureBlocks(dimension: d, blocks: dpo.map { $0.0 }), chosen: dpo.map { $0.1 },
        rejected: dpo.map { $0.2 }, sftFeatures: FeatureBlocks(dimension: d, blocks: sft.map { $0.0 }),
        targets: sft.map { $0.1 })
}

/// |a - b| <= tolerance * max(1, |b|).
func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(b))
}

func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

/// The spec of a random test instance from generated parameters: the bound, weight decay and seed vary
/// with `seed`, so that instances with and without weight decay are both covered.
func randomSpec(dimension: Int, outputs: Int, count: Int, beta: Double, seed: Int) -> RandomInstanceSpec {
    RandomInstanceSpec(dimension: dimension, outputs: outputs, dpoCount: count, sftCount: count + seed % 3,
                       featureBound: 0.5 + Double(seed % 4) * 0.75, beta: beta,
                       weightDecay: seed % 2 == 0 ? 0 : 0.05, seed: UInt64(seed))
}

/// Runs the `forgetting` executable built beside the test bundle.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func forgettingExecutable() -> URL {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("forgetting")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory.deleteLastPathComponent()
    }
    // `swift test` from the package root: the default build folder.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/forgetting")
}

func runCLI(_ arguments: [String], in directory: URL? = nil) throws -> CLIResult {
    let process = Process()
    process.executableURL = forgettingExecutable()
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cf-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The repository root (for Experiments/ files).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The Figure 2 instance, from its file in the repository.
func figure2Problem() throws -> Problem {
    try Problem(try InstanceFile.load(path: repositoryRoot.appendingPathComponent(Figure2.instancePath).path))
}
