import Foundation

/// Finding and running the Python plotting scripts in Plots/.
enum Plotting {
    /// A Python interpreter with matplotlib: $FORGETTING_PYTHON, then .venv/bin/python3 (made by
    /// `bash .ci/setup --plots`) in the current directory or the repository, then python3 on the PATH.
    static func python(repository: URL?) -> String? {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["FORGETTING_PYTHON"] { candidates.append(explicit) }
        candidates.append(".venv/bin/python3")
        if let repository { candidates.append(repository.appendingPathComponent(".venv/bin/python3").path) }
        candidates.append("python3")
        for candidate in candidates where run(candidate, ["-c", "import matplotlib"]).status == 0 {
            return candidate
        }
        return nil
    }

    /// The repository holding Plots/: the current directory, or an ancestor of the executable.
    static func repository() -> URL? {
        let fm = FileManager.default
        var bases = [URL(fileURLWithPath: fm.currentDirectoryPath)]
        var executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<5 {
            executable.deleteLastPathComponent()
            bases.append(executable)
        }
        return bases.first { fm.fileExists(atPath: $0.appendingPathComponent("Plots").path) }
    }

    /// Runs a program (looked up on the PATH when not a path), returning its status and combined output.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (127, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
