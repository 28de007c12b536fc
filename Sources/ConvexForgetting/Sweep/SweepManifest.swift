/// DIR/experiment.json of a sweep: the resolved spec (in the experiment schema, so the same reader reads
/// it back), the toolkit version, the git commit, the number of runs in the grid, the shard and the
/// number of theta columns. Read strictly, like every input file (`SchemaDocument`).
struct Manifest: Equatable {
    var spec: ExperimentSpec
    var version: String
    var gitCommit: String?
    var runs: Int
    var shard: String?
    var dimension: Int
    /// `ContentHash` of each instance file, in the spec's order.
    var instanceHashes: [String]

    var text: String {
        var fields: [String: JSONValue] = [
            "spec": spec.json, "version": .string(version), "runs": .number(Double(runs)),
            "dimension": .number(Double(dimension)), "instanceHashes": .array(instanceHashes.map { .string($0) }),
        ]
        if let gitCommit { fields["gitCommit"] = .string(gitCommit) }
        if let shard { fields["shard"] = .string(shard) }
        return JSONValue.object(fields).text() + "\n"
    }

    static func read(_ path: String) throws -> Manifest {
        let root: JSONFields
        do { root = try SchemaDocument.load(path: path, format: .json) } catch {
            throw SweepRunner.Failure(description: error.description)
        }
        do {
            return try SchemaDocument.attributed(to: path) { () throws(FieldError) in
                let f = try root.object(required: ["spec", "version", "runs", "dimension", "instanceHashes"],
                                        optional: ["gitCommit", "shard"])
                var hashes: [String] = []
                for item in try f["instanceHashes"]!.array() { hashes.append(try item.string()) }
                return Manifest(spec: try ExperimentSpec.build(f["spec"]!, base: nil, checkFiles: false),
                                version: try f["version"]!.string(), gitCommit: try f["gitCommit"]?.string(),
                                runs: try f["runs"]!.integer(), shard: try f["shard"]?.string(), dimension: try f["dimension"]!.integer(),
                                instanceHashes: hashes)
            }
        } catch {
            throw SweepRunner.Failure(description: "\(error.description) (not a sweep manifest of this version)")
        }
    }
}
