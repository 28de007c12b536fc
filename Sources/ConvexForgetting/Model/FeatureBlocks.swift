/// A ragged table of feature blocks: input i has `outputCount(i)` outputs, each with a feature vector
/// phi(x_i, y) in R^d (paper Section 3.2). Stored contiguously, row-major, so that a datum's K x d block
/// is one run of memory.
public struct FeatureBlocks: Sendable, Equatable {
    public let dimension: Int
    /// `offsets[i]` is the first feature row of input i; `offsets[count]` is the total number of rows.
    public let offsets: [Int]
    /// All feature rows, `offsets[count] * dimension` values.
    public let values: [Double]

    public init(dimension: Int, offsets: [Int], values: [Double]) {
        precondition(offsets.first == 0 && values.count == (offsets.last ?? 0) * dimension)
        self.dimension = dimension
        self.offsets = offsets
        self.values = values
    }

    /// Builds the table from nested arrays (one `[[Double]]` of feature vectors per input).
    public init(dimension: Int, blocks: [[[Double]]]) {
        var offsets = [0]
        var values: [Double] = []
        for block in blocks {
            for row in block { values.append(contentsOf: row) }
            offsets.append(offsets.last! + block.count)
        }
        self.init(dimension: dimension, offsets: offsets, values: values)
    }

    /// Number of inputs.
    public var count: Int { offsets.count - 1 }
    /// Total number of (input, output) feature rows.
    public var rowCount: Int { offsets[count] }
    /// Number of outputs of input i.
    public func outputCount(_ i: Int) -> Int { offsets[i + 1] - offsets[i] }
    /// phi(x_i, y_j).
    public func feature(_ i: Int, _ j: Int) -> ArraySlice<Double> {
        let start = (offsets[i] + j) * dimension
        return values[start..<(start + dimension)]
    }
    /// The feature vectors of input i as nested arrays.
    public func block(_ i: Int) -> [[Double]] {
        (0..<outputCount(i)).map { Array(feature(i, $0)) }
    }
}
