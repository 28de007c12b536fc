/// A ragged table of feature blocks: input i has `outputCount(i)` outputs, each with a feature vector
/// phi(x_i, y) in R^d (paper Section 3.2). Stored contiguously, row-major, so that a datum's K x d block
/// is one run of memory. Read-only once built; every accessor checks its index.
public struct FeatureBlocks: Sendable, Equatable {
    public let dimension: Int
    /// `offsets[i]` is the first feature row of input i; `offsets[count]` is the total number of rows.
    public let offsets: [Int]
    /// All feature rows, `offsets[count] * dimension` values.
    public let values: [Double]

    /// Checks the layout: d >= 1, offsets start at 0 and never decrease, and `values` holds exactly
    /// `offsets.last * d` numbers. `path` names the table in errors (`dpo`, `sft`).
    public init(dimension: Int, offsets: [Int], values: [Double], path: String = "features") throws(FieldError) {
        guard dimension >= 1 else { throw FieldError(path: path, message: "feature vectors must have at least one entry") }
        guard offsets.first == 0, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw FieldError(path: path, message: "offsets must start at 0 and never decrease")
        }
        let (rows, overflow) = offsets.last!.multipliedReportingOverflow(by: dimension)
        guard !overflow, values.count == rows else {
            throw FieldError(path: path, message: "holds \(values.count) numbers, but \(offsets.last!) rows of \(dimension) need \(offsets.last!) x \(dimension)")
        }
        self.dimension = dimension
        self.offsets = offsets
        self.values = values
    }

    /// Builds the table from nested arrays (one `[[Double]]` of feature vectors per input); every vector
    /// must have length `dimension`.
    public init(dimension: Int, blocks: [[[Double]]], path: String = "features") throws(FieldError) {
        var offsets = [0]
        var values: [Double] = []
        for (i, block) in blocks.enumerated() {
            for (j, row) in block.enumerated() {
                guard row.count == dimension else {
                    throw FieldError(path: "\(path)[\(i)][\(j)]", message: "has length \(row.count), expected \(dimension)")
                }
                values.append(contentsOf: row)
            }
            offsets.append(offsets.last! + block.count)
        }
        try self.init(dimension: dimension, offsets: offsets, values: values, path: path)
    }

    /// Number of inputs.
    public var count: Int { offsets.count - 1 }
    /// Number of outputs of input i (traps unless 0 <= i < count).
    public func outputCount(_ i: Int) -> Int {
        precondition(i >= 0 && i < count, "input \(i) is out of range 0..<\(count)")
        return offsets[i + 1] - offsets[i]
    }
    /// phi(x_i, y_j) (traps unless both indices are in range).
    public func feature(_ i: Int, _ j: Int) -> ArraySlice<Double> {
        precondition(j >= 0 && j < outputCount(i), "output \(j) of input \(i) is out of range 0..<\(outputCount(i))")
        let start = (offsets[i] + j) * dimension
        return values[start..<(start + dimension)]
    }
}
