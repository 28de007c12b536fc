import ArgumentParser
import ConvexForgetting
import Foundation

/// `--max-memory MiB`: how much dense d x d work (Hessians, Newton, the attainment LP) a command may
/// allocate; larger instances are refused before anything is allocated.
struct MemoryOption: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("MiB of dense d x d work allowed (Hessians, exact optima).", valueName: "MiB"))
    var maxMemory = Limits.defaultMaxMemory >> 20

    func validate() throws {
        guard maxMemory >= 1, maxMemory <= Int.max >> 20 else { throw ValidationError("--max-memory must be in 1...\(Int.max >> 20) MiB, got \(maxMemory)") }
    }

    var bytes: Int { maxMemory << 20 }

    /// The exact solver with this limit.
    var solver: NewtonSolver {
        var solver = NewtonSolver()
        solver.memoryLimit = bytes
        return solver
    }

    /// Refuses `problem` (from `path`) when the exact solver (dense, or matrix-free for large d) would pass
    /// the limit, or, with `dense`, when a d x d Hessian would.
    func check(_ problem: Problem, path: String, dense: Bool = false) throws {
        do {
            if dense {
                try Limits.checkDense(dimension: problem.dimension, forms: problem.linearFormCount, limit: bytes)
            } else {
                _ = try Limits.solverMode(dimension: problem.dimension, forms: problem.linearFormCount, limit: bytes)
            }
        } catch {
            throw CommandFailure("\(path): --max-memory \(error.message)")
        }
    }
}

/// `--instance FILE`, loaded and validated once, and checked against `--max-memory`.
struct InstanceOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Instance: a JSON file or a directory of .npy arrays.", valueName: "path"))
    var instance: String

    @OptionGroup var memory: MemoryOption

    /// The problem; `dense` for commands that form d x d Hessians (eval, check).
    func load(dense: Bool = false) throws -> Problem {
        let problem = try loadProblem(instance)
        try memory.check(problem, path: instance, dense: dense)
        return problem
    }
}

// The closed sets of choices: the parser refuses other values and --help lists them.
extension MethodName: ExpressibleByArgument {}
extension ScheduleName: ExpressibleByArgument {}
extension PhaseSchedule: ExpressibleByArgument {}

/// A default file of the repository (never a path the user gave): as given when it exists, else under the
/// repository that holds Plots/, so that the defaults work from any working directory.
func repositoryFile(_ path: String) -> String {
    if FileManager.default.fileExists(atPath: path) { return path }
    if let root = Plotting.repository() {
        let candidate = root.appendingPathComponent(path).path
        if FileManager.default.fileExists(atPath: candidate) { return candidate }
    }
    return path
}

/// Loads the instance at `path` exactly as the user named it.
func loadProblem(_ path: String) throws -> Problem {
    do { return try Problem.load(path: path) } catch { throw CommandFailure(error.description) }
}

/// The exact optima at lambda, a solver failure named by the instance it happened on.
func solveOptima(_ problem: Problem, lambda: Double, instance: String, solver: NewtonSolver) throws -> OptimalValues {
    do { return try OptimalValues(problem: problem, lambda: lambda, solver: solver) } catch { throw CommandFailure("\(instance): \(error)") }
}

/// A library argument error as a flag error: `learningRate` is shown as `--learning-rate`.
func flagError(_ error: ArgumentError) -> ValidationError {
    ValidationError("\(error.flag) \(error.message)")
}

/// A failure turned into a one-line message and exit status 1 by ArgumentParser.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `--record MODE`, parsed once by the argument parser (its errors name the flag).
func parseRecordMode(_ text: String) throws -> RecordMode { try RecordMode(parsing: text) }

/// Parses `0.3,-1.2` into a vector of finite numbers; `flag` names the option in errors.
func parseVector(_ text: String, flag: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    var values: [Double] = []
    for part in parts {
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let v = Double(trimmed), v.isFinite else {
            throw ValidationError("\(flag): '\(trimmed)' is not a finite number (expected comma-separated numbers like 0.3,-1.2)")
        }
        values.append(v)
    }
    return values
}

/// Validates lambda in [0, 1] (for commands whose lambda reaches no library check before work starts).
func checkLambda(_ lambda: Double?, flag: String = "--lambda") throws {
    if let l = lambda, !(l.isFinite && l >= 0 && l <= 1) {
        throw ValidationError("\(flag) must be in [0, 1], got \(l)")
    }
}

/// Minimal ordered JSON output: numbers in Swift's shortest round-trip form.
enum JSON {
    /// JSON has no NaN or infinity: those print as null (no legal input produces them).
    static func number(_ x: Double) -> String {
        x.isFinite ? "\(x)" : "null"
    }
    /// A JSON string literal.
    static func string(_ s: String) -> String { JSONText.quoted(s) }
    static func vector(_ v: [Double]) -> String { "[" + v.map(number).joined(separator: ",") + "]" }
    static func matrix(_ m: [Double], n: Int) -> String {
        "[" + (0..<n).map { vector(Array(m[($0 * n)..<($0 * n + n)])) }.joined(separator: ",") + "]"
    }
    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// Right-aligned plain-text table.
func formatTable(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = (0..<header.count).map { c in all.map { $0[c].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { c, cell in
            c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - cell.count) + cell
        }.joined(separator: "  ")
    }
    return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
        .joined(separator: "\n")
}

func fmt(_ x: Double, _ digits: Int = 6) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return "\(x)" }
    let magnitude = abs(x)
    if magnitude >= 1e-3 && magnitude < 1e6 { return String(format: "%.\(digits)f", x) }
    return String(format: "%.\(max(1, digits - 2))e", x)
}

/// Fails validation unless `path` can be written (directory exists; no file there without --force).
func checkOutput(_ path: String, force: Bool, flag: String) throws {
    do { try AtomicFile.checkWritable(path, force: force) } catch { throw ValidationError("\(flag): \(error)") }
}

/// Writes a whole table (temporary name, then rename), turning failure into a one-line error.
func writeTable(_ table: CSVTable, _ rows: [[String]], to path: String) throws {
    do { try table.write(rows, to: path) } catch { throw CommandFailure(error.description) }
}

/// Writes a whole output file (temporary name, then rename), turning failure into a one-line error.
func writeOutput(_ text: String, to path: String) throws {
    do { try AtomicFile.write(text, to: path) } catch { throw CommandFailure(error.description) }
}
