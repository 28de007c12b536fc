import ArgumentParser
import ConvexForgetting

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Values, exact gradients, Hessians and minimum Hessian eigenvalues at one theta.")

    @OptionGroup var instance: InstanceOption

    @Option(parsing: .unconditional, help: ArgumentHelp("The point, comma-separated (negative values are fine: --theta -1.2,0.5).", valueName: "t1,t2,..."))
    var theta: String

    @Option(parsing: .unconditional, help: "Also evaluate f_mix = lambda f_DPO + (1 - lambda) f_SFT (lambda in [0, 1]).")
    var lambda: Double?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        _ = try parseVector(theta, flag: "--theta")
        try checkLambda(lambda)
    }

    func run() throws {
        let problem = try instance.load(dense: true)
        let point = try parseVector(theta, flag: "--theta")
        guard point.count == problem.dimension else {
            throw ValidationError("--theta has \(point.count) entries, but the instance has dimension \(problem.dimension)")
        }
        guard Limits.marginBound(point, featureBound: problem.featureBound, beta: problem.beta) <= Limits.margin else {
            throw ValidationError("--theta is too large: its margins |theta . phi| would pass 1e150 (the losses would overflow)")
        }
        let d = problem.dimension
        var objectives: [(String, Objective)] = [("DPO", .dpo), ("SFT", .sft)]
        if let lambda { objectives.append(("Mix", .mix(lambda: lambda))) }
        var pairs: [(String, String)] = [("thetaRef", JSON.vector(problem.thetaRef))]
        var rows: [[String]] = []
        var blocks: [String] = []
        for (label, objective) in objectives {
            let (value, gradient) = problem.valueAndGradient(objective, at: point)
            let hessian = problem.hessian(objective, at: point)
            let minEigenvalue: Double
            do { minEigenvalue = try LinearAlgebra.minimumEigenvalue(hessian, n: d) } catch {
                throw CommandFailure("\(instance.instance): the Hessian of \(objective) at --theta: \(error)")
            }
            pairs += [("f\(label)", JSON.number(value)), ("grad\(label)", JSON.vector(gradient)),
                      ("hessian\(label)", JSON.matrix(hessian, n: d)), ("minEigenvalue\(label)", JSON.number(minEigenvalue))]
            rows.append([objective.description, fmt(value, 10), fmt(minEigenvalue, 10)])
            let hessianRows = (0..<d).map { r in (0..<d).map { fmt(hessian[r * d + $0]) }.joined(separator: "  ") }
            blocks.append("grad \(label): " + gradient.map { fmt($0, 10) }.joined(separator: "  ")
                          + "\nhessian \(label):\n  " + hessianRows.joined(separator: "\n  "))
        }
        // JSON key order: the contract lists values first, then gradients, Hessians, eigenvalues.
        let labels: [String] = objectives.map { $0.0 }
        var order: [String] = ["thetaRef"]
        for prefix in ["f", "grad", "hessian", "minEigenvalue"] {
            order += labels.map { prefix + $0 }
        }
        let lookup = Dictionary(uniqueKeysWithValues: pairs)
        if json {
            print(JSON.object(order.map { ($0, lookup[$0]!) }))
        } else {
            print("instance \(problem.instance.name), theta = \(point.map { fmt($0) }.joined(separator: ", "))")
            print("theta_ref = \(problem.thetaRef.map { fmt($0) }.joined(separator: ", "))\n")
            print(formatTable(["objective", "value", "min eigenvalue"], rows))
            print("")
            print(blocks.joined(separator: "\n"))
        }
    }
}
