import ArgumentParser
import ConvexForgetting
import Foundation

@main
struct Forgetting: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forgetting",
        abstract: "Verify the convex-softmax theory of forgetting between SFT and preference learning (DPO).",
        discussion: """
        Instances are JSON files (see README.md). Objectives: dpo (eq. 1), sft (eq. 4) and \
        mix = lambda f_DPO + (1 - lambda) f_SFT (eq. 6). Exit status: 0 success, 1 bad input or a failed \
        check, 3 a run diverged (a non-finite iterate or loss), 128 + N killed by signal N.
        """,
        version: toolkitVersion,
        subcommands: [InstanceCommand.self, EvalCommand.self, OptimumCommand.self, CheckCommand.self, TrainCommand.self, ExactCommand.self, Figure2Command.self, VerifyCommand.self, SweepCommand.self, MergeCommand.self, FrontCommand.self, BenchCommand.self, ReportCommand.self]
    )

    /// Parses and runs the command. Help and the version print as usual; every error, from a flag or from
    /// the work, is exactly one line on stderr with status 1 (a diverged run: status 3).
    static func main() {
        // SIGINT, SIGTERM, SIGHUP: outputs in progress leave no temporary file; exit 128 + N.
        OutputCleanup.installSignalHandlers()
        do {
            var command = try parseAsRoot()
            try command.run()
            // Output lost to a full disk or a closed stdout is a failure, not a success.
            if fflush(nil) != 0 {
                fail("cannot write to standard output (\(String(cString: strerror(errno))))", status: 1)
            }
        } catch let diverged as Diverged {
            fail(diverged.description, status: Diverged.exitStatus)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            let text = message(for: error)
            if text.isEmpty { Foundation.exit(code.rawValue) }  // a bare exit status
            fail(text, status: 1)
        }
    }

    /// Prints `message` as one line on stderr and exits.
    static func fail(_ message: String, status: Int32) -> Never {
        let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
            .replacingOccurrences(of: ":; - ", with: ": ").replacingOccurrences(of: "; - ", with: ", ")
        FileHandle.standardError.write(Data("error: \(line)\n".utf8))
        Foundation.exit(status)
    }
}

/// A run whose iterate or loss became non-finite: its rows up to that step are kept; the command exits with
/// status 3.
struct Diverged: Error, CustomStringConvertible {
    static let exitStatus: Int32 = 3
    var description: String
}

let toolkitVersion = "0.1.0"
