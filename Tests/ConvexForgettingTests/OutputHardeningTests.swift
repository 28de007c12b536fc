@testable import ConvexForgetting
import Foundation
import Testing

/// Outputs under failure: signals leave no temporaries.
@Suite struct OutputHardeningTests {
    var figure2: String { repositoryRoot.appendingPathComponent("Experiments/instances/figure2.json").path }

    func trainArguments(steps: Int, out: String, record: String = "all") -> [String] {
        ["train", "--instance", figure2, "--method", "alright", "--lambda", "0.5", "--steps", "\(steps)",
         "--learning-rate", "0.01", "--record", record, "--out", out]
    }

    func contents(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    // MARK: 2. Signals

    /// Waits until `path` exists (or `process` ended, or 60 s passed).
    func waitFor(_ path: String, while process: Process) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            if FileManager.default.fileExists(atPath: path) { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return FileManager.default.fileExists(atPath: path)
    }

    /// Foundation's `Process` starts the child with an empty signal mask and default dispositions, although
    /// the test's own thread (a Swift concurrency worker) blocks SIGINT, SIGTERM and SIGHUP; so the signals
    /// reach `train` as they would from a shell. (A child that inherited the blocked mask would still be
    /// cleaned up: the dispatch source reads the pending signal through a signalfd.)
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func aSignalRemovesTheTemporaryAndExitsWith128PlusIt(_ signalNumber: Int32) throws {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("x.csv").path
        let process = Process()
        process.executableURL = forgettingExecutable()
        process.arguments = trainArguments(steps: 20_000_000, out: out)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let temporary = directory.appendingPathComponent(".x.csv.\(process.processIdentifier).tmp").path
        #expect(waitFor(temporary, while: process))
        #expect(try contents(directory) == [".x.csv.\(process.processIdentifier).tmp"])
        kill(process.processIdentifier, signalNumber)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + signalNumber)
        #expect(try contents(directory) == [])
    }
}
