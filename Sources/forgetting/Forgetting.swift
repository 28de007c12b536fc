import ArgumentParser

@main
struct Forgetting: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forgetting",
        abstract: "Verify the convex-softmax theory of forgetting between SFT and preference learning (DPO).",
        discussion: """
        Instances are JSON files (see README.md). Objectives: dpo (eq. 1), sft (eq. 4) and \
        mix = lambda f_DPO + (1 - lambda) f_SFT (eq. 6).
        """,
        version: toolkitVersion,
        subcommands: [InstanceCommand.self, EvalCommand.self, OptimumCommand.self, CheckCommand.self, TrainCommand.self, Figure2Command.self, VerifyCommand.self, SweepCommand.self, MergeCommand.self, FrontCommand.self, BenchCommand.self]
    )
}

let toolkitVersion = "0.1.0"
