import Foundation

/// Reading and writing instance files (JSON). The schema, keys exactly as written:
/// ```
/// { "name": "example", "featureBound": 1.0, "beta": 0.5, "weightDecay": 0.0,
///   "reference": { "theta": [0.1, -0.2] }        // or {"fit": {"init": [...], "learningRate": 0.01, "steps": 1000}}
///   "dpo": [ { "features": [[1, 0], [0, 1]], "chosen": 0, "rejected": 1 } ],
///   "sft": [ { "features": [[0, 1], [1, 0], [0.5, 0.5]], "target": 0 } ] }
/// ```
/// Unknown or missing keys, ragged features and every rule of `Instance.validate()` are errors that name
/// the file and the field.
public enum InstanceFile {
    /// Loads and validates an instance file.
    public static func load(path: String) throws(FieldError) -> Instance {
        let root = try SchemaDocument.load(path: path, format: .json)
        return try SchemaDocument.attributed(to: path) { () throws(FieldError) in try build(root) }
    }

    /// Decodes and validates instance JSON.
    public static func decode(_ data: Data) throws(FieldError) -> Instance {
        try build(SchemaDocument.parse(data, format: .json))
    }

    static func build(_ root: JSONFields) throws(FieldError) -> Instance {
        let fields = try root.object(
            required: ["featureBound", "beta", "reference", "dpo", "sft"], optional: ["name", "weightDecay"])
        let name = try fields["name"]?.string() ?? "unnamed"
        let featureBound = try fields["featureBound"]!.number()
        let beta = try fields["beta"]!.number()
        let weightDecay = try fields["weightDecay"]?.number() ?? 0

        let dpoItems = try fields["dpo"]!.array()
        guard !dpoItems.isEmpty else { throw FieldError(path: "dpo", message: "must hold at least one datum") }
        var dpoBlocks: [[[Double]]] = []
        var chosen: [Int] = []
        var rejected: [Int] = []
        var dimension: Int?
        for item in dpoItems {
            let datum = try item.object(required: ["features", "chosen", "rejected"])
            dpoBlocks.append(try readBlock(datum["features"]!, dimension: &dimension))
            chosen.append(try datum["chosen"]!.integer())
            rejected.append(try datum["rejected"]!.integer())
        }
        let sftItems = try fields["sft"]!.array()
        guard !sftItems.isEmpty else { throw FieldError(path: "sft", message: "must hold at least one datum") }
        var sftBlocks: [[[Double]]] = []
        var targets: [Int] = []
        for item in sftItems {
            let datum = try item.object(required: ["features", "target"])
            sftBlocks.append(try readBlock(datum["features"]!, dimension: &dimension))
            targets.append(try datum["target"]!.integer())
        }
        let d = dimension ?? 0

        let reference = try readReference(fields["reference"]!)
        return try Instance(
            name: name, featureBound: featureBound, beta: beta, weightDecay: weightDecay, reference: reference,
            dpoFeatures: FeatureBlocks(dimension: d, blocks: dpoBlocks, path: "dpo"), chosen: chosen, rejected: rejected,
            sftFeatures: FeatureBlocks(dimension: d, blocks: sftBlocks, path: "sft"), targets: targets)
    }

    /// `{"theta": [...]}` or `{"fit": {"init": [...], "learningRate": r, "steps": n}}`.
    static func readReference(_ field: JSONFields) throws(FieldError) -> ReferenceSpec {
        let referenceFields = try field.object(required: [], optional: ["theta", "fit"])
        switch (referenceFields["theta"], referenceFields["fit"]) {
        case (let theta?, nil):
            return .theta(try theta.numbers())
        case (nil, let fit?):
            let f = try fit.object(required: ["init", "learningRate", "steps"])
            return .fit(initial: try f["init"]!.numbers(), learningRate: try f["learningRate"]!.number(),
                        steps: try f["steps"]!.integer())
        default:
            throw FieldError(path: "reference", message: "must hold exactly one of \"theta\" or \"fit\"")
        }
    }

    /// Reads one datum's `features`: at least two vectors, all of the instance's common length.
    private static func readBlock(_ field: JSONFields, dimension: inout Int?) throws(FieldError) -> [[Double]] {
        let rows = try field.array()
        guard rows.count >= 2 else {
            throw FieldError(path: field.path, message: "needs at least 2 outputs, got \(rows.count)")
        }
        var block: [[Double]] = []
        for row in rows {
            let vector = try row.numbers()
            if let d = dimension {
                guard vector.count == d else {
                    throw FieldError(path: row.path, message: "has length \(vector.count), expected \(d) like the first feature vector")
                }
            } else {
                guard !vector.isEmpty else { throw FieldError(path: row.path, message: "must not be empty") }
                dimension = vector.count
            }
            block.append(vector)
        }
        return block
    }

    /// The instance as JSON text in the schema above, one datum per line. Numbers print in Swift's
    /// shortest round-trip form, so `decode(encode(x)) == x`.
    public static func encode(_ instance: Instance) -> String {
        func vector(_ v: some Sequence<Double>) -> String { "[" + v.map { "\($0)" }.joined(separator: ", ") + "]" }
        func block(_ table: FeatureBlocks, _ i: Int) -> String {
            "[" + (0..<table.outputCount(i)).map { vector(table.feature(i, $0)) }.joined(separator: ", ") + "]"
        }
        let reference: String
        switch instance.reference {
        case .theta(let theta): reference = "{\"theta\": \(vector(theta))}"
        case .fit(let initial, let rate, let steps):
            reference = "{\"fit\": {\"init\": \(vector(initial)), \"learningRate\": \(rate), \"steps\": \(steps)}}"
        }
        let dpo = (0..<instance.dpoFeatures.count).map {
            "    {\"features\": \(block(instance.dpoFeatures, $0)), \"chosen\": \(instance.chosen[$0]), \"rejected\": \(instance.rejected[$0])}"
        }
        let sft = (0..<instance.sftFeatures.count).map {
            "    {\"features\": \(block(instance.sftFeatures, $0)), \"target\": \(instance.targets[$0])}"
        }
        let quotedName = JSONText.quoted(instance.name)
        return """
        {
          "name": \(quotedName),
          "featureBound": \(instance.featureBound),
          "beta": \(instance.beta),
          "weightDecay": \(instance.weightDecay),
          "reference": \(reference),
          "dpo": [
        \(dpo.joined(separator: ",\n"))
          ],
          "sft": [
        \(sft.joined(separator: ",\n"))
          ]
        }

        """
    }
}
