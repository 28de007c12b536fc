import ArgumentParser
import ConvexForgetting
import Foundation

/// How `instance random` writes an instance.
enum InstanceFormat: String, CaseIterable, ExpressibleByArgument {
    case json, npy
}

struct InstanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instance", abstract: "Make instance files.", subcommands: [RandomInstance.self])
}

struct RandomInstance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random",
        abstract: "Write a random instance: features uniform in the ball of radius PHI, theta_ref = 0.")

    @Option(parsing: .unconditional, help: "Dimension d of theta.") var dim: Int
    @Option(parsing: .unconditional, help: "Outputs K per input.") var outputs: Int
    @Option(parsing: .unconditional, help: "Number of DPO inputs.") var dpo: Int
    @Option(parsing: .unconditional, help: "Number of SFT inputs.") var sft: Int
    @Option(parsing: .unconditional, help: "Feature bound PHI (Assumption 3.2).") var bound = 1.0
    @Option(parsing: .unconditional, help: "DPO beta > 0.") var beta = 0.5
    @Option(parsing: .unconditional, help: "Weight decay mu >= 0.") var weightDecay = 0.0
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Output: a JSON file, or with --format npy a directory of .npy arrays.", valueName: "path")) var out: String
    @Option(help: "json, or npy (a directory: instance.json plus dpo_features.npy, ... for large instances).") var format = InstanceFormat.json
    @Flag(help: "Overwrite an existing output file.") var force = false

    func validate() throws {
        guard dim >= 1 else { throw ValidationError("--dim must be >= 1, got \(dim)") }
        guard outputs >= 2 else { throw ValidationError("--outputs must be >= 2, got \(outputs)") }
        guard dpo >= 1 else { throw ValidationError("--dpo must be >= 1, got \(dpo)") }
        guard sft >= 1 else { throw ValidationError("--sft must be >= 1, got \(sft)") }
        // A JSON number takes about 20 characters: past 10^7 numbers the file would pass the reader's 256 MiB.
        if format == .json, let numbers = Limits.product([dim, outputs, dpo &+ sft]), numbers > 10_000_000 {
            throw ValidationError("--format json holds at most 10^7 feature numbers (the JSON reader's 256 MiB), got \(numbers); use --format npy")
        }
        guard bound.isFinite, bound > 0 else { throw ValidationError("--bound must be a finite number > 0, got \(bound)") }
        guard beta.isFinite, beta > 0 else { throw ValidationError("--beta must be a finite number > 0, got \(beta)") }
        guard weightDecay.isFinite, weightDecay >= 0 else {
            throw ValidationError("--weight-decay must be a finite number >= 0, got \(weightDecay)")
        }
    }

    func run() throws {
        do {
            if format == .npy {
                if !force, FileManager.default.fileExists(atPath: (out as NSString).appendingPathComponent("instance.json")) {
                    throw OutputError(path: out, message: "already holds an instance (pass --force to overwrite)")
                }
            } else {
                try AtomicFile.checkWritable(out, force: force)
            }
            let instance = try Instance.random(RandomInstanceSpec(
                dimension: dim, outputs: outputs, dpoCount: dpo, sftCount: sft, featureBound: bound, beta: beta,
                weightDecay: weightDecay, seed: seed))
            if format == .npy {
                try NPYInstance.write(instance, to: out)
            } else {
                try AtomicFile.write(InstanceFile.encode(instance), to: out)
            }
            print("wrote \(out): d = \(dim), K = \(outputs), \(dpo) DPO and \(sft) SFT inputs, Phi = \(bound)")
        } catch let error as CustomStringConvertible & Error {
            throw CommandFailure(error.description)
        }
    }
}
