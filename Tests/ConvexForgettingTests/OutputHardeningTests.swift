@testable import ConvexForgetting
import Foundation
import Testing

/// Outputs under failure: write errors stop the run at once, signals leave no temporaries, one writer per
/// output, and a resumed sweep removes the temporaries an interrupted one left.
@Suite struct OutputHardeningTests {
    var figure2: String { repositoryRoot.appendingPathComponent("Experiments/instances/figure2.json").path }

    func trainArguments(steps: Int, out: String, record: String = "all") -> [String] {
        ["train", "--instance", figure2, "--method", "alright", "--lambda", "0.5", "--steps", "\(steps)",
         "--learning-rate", "0.01", "--record", record, "--max-output", "100000", "--out", out]
    }

    func contents(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    /// A StreamingFile whose temporary is created beside the target, as always, but whose bytes go to
    /// /dev/full: every write that reaches the device fails with ENOSPC.
    func fullFile(_ target: String) throws -> StreamingFile {
        try StreamingFile(path: target, exclusive: false) { temporary in
            fclose(fopen(temporary, "w"))
            return fopen("/dev/full", "w")
        }
    }

    // MARK: 1. Write errors

    @Test func aWriteErrorThrowsOnTheFirstFailingWrite() throws {
        let directory = try temporaryDirectory()
        let target = directory.appendingPathComponent("full.csv").path
        let file = try fullFile(target)
        let temporary = file.temporary
        #expect(temporary == directory.appendingPathComponent(".full.csv.\(getpid()).tmp").path)
        #expect(FileManager.default.fileExists(atPath: temporary) && OutputCleanup.isRegistered(temporary))
        // 1000-byte lines: 65 fill 65,000 of the 65,536-byte buffer without reaching the device; the 66th
        // overflows it, and the flush to the full device fails inside that write.
        let line = String(repeating: "x", count: 999) + "\n"
        #expect(StreamingFile.bufferSize / line.utf8.count == 65)
        for _ in 0..<65 { try file.write(line) }
        let error = #expect(throws: OutputError.self) { try file.write(line) }
        #expect(error?.description == "\(target): write failed: No space left on device (disk full?)")
        #expect(try contents(directory) == [])
        #expect(!OutputCleanup.isRegistered(temporary))
        // The file stays failed: commit reports the same error and renames nothing.
        let again = #expect(throws: OutputError.self) { try file.commit() }
        #expect(again?.description == error?.description)
        #expect(try contents(directory) == [])
    }

    @Test func aWriteLargerThanTheBufferFailsAtOnce() throws {
        let directory = try temporaryDirectory()
        let target = directory.appendingPathComponent("full.npy").path
        let file = try fullFile(target)
        let error = #expect(throws: OutputError.self) { try file.write(Data(count: StreamingFile.bufferSize + 1)) }
        #expect(error?.message == "write failed: No space left on device (disk full?)")
        #expect(try contents(directory) == [])
    }

    @Test func dataReachesTheTargetWhole() throws {
        let directory = try temporaryDirectory()
        let target = directory.appendingPathComponent("t.csv").path
        let table = CSVTable(["a", "b"])
        let rows = (0..<20_000).map { ["\($0)", "\(Double($0) / 7)"] }
        try table.write(rows, to: target)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == table.text(rows))
        #expect(try contents(directory) == ["t.csv"])
    }

    /// `train` on a disk that fills up stops at the first failing write: here the file-size limit of the
    /// process (ulimit -f, 100 KiB, with SIGXFSZ ignored so that the write returns EFBIG) stands for it.
    @Test func trainStopsAtTheFirstFailingWrite() throws {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("x.csv").path
        let command = ([forgettingExecutable().path] + trainArguments(steps: 20_000_000, out: out))
            .map { "'\($0)'" }.joined(separator: " ")
        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -f 200; trap '' XFSZ; exec \(command)"]  // 200 blocks of 512 bytes
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let outText = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 1)
        #expect(errText == "error: \(out): write failed: File too large (disk full?)\n")
        #expect(outText == "")
        #expect(try contents(directory) == [])
        // 20 million steps take minutes; the run ended after about 100 KiB of rows.
        #expect(Date().timeIntervalSince(started) < 30)
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
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM])
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
        #expect(try contents(directory) == [".x.csv.\(process.processIdentifier).tmp", ".x.csv.lock"])
        kill(process.processIdentifier, signalNumber)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + signalNumber)
        #expect(try contents(directory) == [])
    }

    // MARK: 3. One writer per output

    @Test func aSecondWriterOfTheSameFileFailsAtOnce() throws {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("same.csv").path
        let first = Process()
        first.executableURL = forgettingExecutable()
        first.arguments = trainArguments(steps: 5_000_000, out: out, record: "final")
        let firstOut = Pipe()
        first.standardOutput = firstOut
        first.standardError = FileHandle.nullDevice
        try first.run()
        #expect(waitFor(directory.appendingPathComponent(".same.csv.lock").path, while: first))
        let second = try runCLI(trainArguments(steps: 5_000_000, out: out, record: "final"))
        let firstStillRunning = first.isRunning
        #expect(second.status == 1)
        #expect(second.stderr == "error: \(out): another run is writing this file\n")
        #expect(second.stdout == "")
        let firstText = String(decoding: firstOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        first.waitUntilExit()
        #expect(firstStillRunning, "the first run ended before the second tried: lengthen it")
        #expect(first.terminationStatus == 0)
        #expect(firstText.hasPrefix("wrote \(out): 1 rows, 5000000 steps of alright\n"))
        // The first run's file, whole: the header and the final step; no lock or temporary left.
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && CSV.parseLine(lines[1])[3] == "5000000")
        #expect(try contents(directory) == ["same.csv"])
    }

    @Test func theLockIsHeldUntilCommitOrFailure() throws {
        let directory = try temporaryDirectory()
        let target = directory.appendingPathComponent("t.csv").path
        let lock = directory.appendingPathComponent(".t.csv.lock").path
        var file: StreamingFile? = try StreamingFile(path: target, exclusive: true)
        #expect(FileManager.default.fileExists(atPath: lock) && OutputCleanup.isRegistered(lock))
        // flock belongs to the open file description: a second writer in the same process is refused too.
        let refused = #expect(throws: OutputError.self) { try StreamingFile(path: target, exclusive: true) }
        #expect(refused?.description == "\(target): another run is writing this file")
        try file?.write("a\n")
        try file?.commit()
        #expect(try contents(directory) == ["t.csv"] && !OutputCleanup.isRegistered(lock))
        // Dropped without commit: temporary and lock removed, the target untouched.
        file = try StreamingFile(path: target, exclusive: true)
        try file?.write("b\n")
        file = nil
        #expect(try contents(directory) == ["t.csv"])
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "a\n")
        // Not exclusive: no lock file.
        let plain = try StreamingFile(path: target)
        #expect(try contents(directory) == [".t.csv.\(getpid()).tmp", "t.csv"])
        try plain.commit()
    }

    // MARK: 4. Stale temporaries

    @Test func temporaryNamesAreRecognisedExactly() {
        #expect(OutputCleanup.temporaryOwner(".run-0000001.trajectory.csv.99999.tmp") == 99999)
        #expect(OutputCleanup.temporaryOwner(".summary.csv.7.tmp") == 7)
        for name in ["run-0000001.trajectory.csv.99999.tmp", ".notes.tmp", ".summary.csv.12a.tmp", ".summary.csv..tmp",
                     "..5.tmp", ".summary.csv.99999.tmp.bak", ".summary.csv.lock"] {
            #expect(OutputCleanup.temporaryOwner(name) == nil, "\(name)")
        }
    }

    @Test func resumeRemovesStaleTemporaries() throws {
        let sweeps = SweepTests()
        let (directory, file) = try sweeps.experiment()
        let full = directory.appendingPathComponent("full"), partial = directory.appendingPathComponent("partial")
        #expect(try runCLI(["sweep", file, "--out", full.path]).status == 0)
        #expect(try runCLI(["sweep", file, "--out", partial.path]).status == 0)
        // An interruption during run 1 and during assembly: their temporaries stay, the run has no summary part.
        let parts = partial.appendingPathComponent("parts")
        let fm = FileManager.default
        try fm.removeItem(at: parts.appendingPathComponent("run-0000001.summary.csv"))
        try fm.removeItem(at: parts.appendingPathComponent("run-0000001.trajectory.csv"))
        try fm.removeItem(at: partial.appendingPathComponent("trajectories.csv"))
        try fm.removeItem(at: partial.appendingPathComponent("summary.csv"))
        let stale = [parts.appendingPathComponent(".run-0000001.trajectory.csv.99999.tmp"),
                     partial.appendingPathComponent(".trajectories.csv.99999.tmp")]
        // Names that are not StreamingFile temporaries are left alone.
        let kept = [parts.appendingPathComponent(".notes.tmp"), partial.appendingPathComponent(".summary.csv.x1.tmp")]
        for url in stale + kept { try "method,lambda\nalright,0.5\n".write(to: url, atomically: false, encoding: .utf8) }
        let resumed = try runCLI(["sweep", file, "--out", partial.path, "--resume"])
        #expect(resumed.status == 0 && resumed.stderr.contains("1 run now"), "\(resumed.stderr)")
        for url in stale { #expect(!fm.fileExists(atPath: url.path), "\(url.lastPathComponent)") }
        for url in kept { #expect(fm.fileExists(atPath: url.path), "\(url.lastPathComponent)") }
        #expect(try sweeps.read(full, "trajectories.csv") == sweeps.read(partial, "trajectories.csv"))
        #expect(try sweeps.deterministicSummary(full) == sweeps.deterministicSummary(partial))
        #expect(try contents(partial) == [".summary.csv.x1.tmp", DirectoryLock.fileName, "experiment.json", "parts", "summary.csv", "trajectories.csv"].sorted())
    }
}
