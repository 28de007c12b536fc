/// Sizes that inputs declare, checked before anything is allocated. Each limit is far above what the
/// toolkit's experiments use; those a user may need to pass have a flag (`--max-runs`, `--max-memory`).
public enum Limits {
    /// The largest scale of featureBound, beta and weight decay (and the smallest, inverted): kernels stay
    /// finite within it.
    public static let scale = 1e50

    /// The largest margin |theta . phi| a start or reference may have: squares and exponents of the losses
    /// stay finite below it.
    public static let margin = 1e150

    /// max |theta_k| sqrt(d) Phi max(1, beta): a bound on the margins at theta.
    public static func marginBound(_ theta: [Double], featureBound: Double, beta: Double) -> Double {
        theta.reduce(0) { max($0, abs($1)) } * Double(theta.count).squareRoot() * featureBound * max(1, beta)
    }

    /// Data sampled per gradient (`--batch`, experiment `batch`).
    public static let batch = 10_000_000
    /// Seeds of a sweep grid or a Monte Carlo check.
    public static let seeds = 10_000_000
    /// Points of a Pareto front or a claim check.
    public static let points = 1_000_000
    /// Largest horizon of `forgetting exact` (each update costs a pass over the law's atoms).
    public static let exactHorizon = 100_000_000
    /// Gradient steps of a reference fit (each one a pass over the DPO data).
    public static let referenceFitSteps = 10_000_000
    /// Numbers a random instance may hold (features of both objectives): 8 GiB of doubles.
    public static let randomInstanceValues = 1 << 30
    /// Runs a sweep may hold unless `--max-runs` raises it.
    public static let defaultMaxRuns = 1_000_000
    /// Bytes of dense d x d work (Hessians, Newton, the attainment tableau) unless `--max-memory` raises it.
    public static let defaultMaxMemory = 4 << 30

    /// Bytes of CSV output a command may write unless `--max-output` raises it.
    public static let defaultMaxOutput = 1 << 30

    /// A generous estimate of a trajectory CSV: `rows` rows of d theta columns and 16 others, at most 25
    /// characters a number.
    public static func trajectoryBytes(rows: Int, dimension d: Int) -> Int? {
        product([rows, d + 16, 25])
    }

    /// Throws unless `bytes` (nil: past Int.max) fit in `limit`.
    public static func checkOutput(bytes: Int?, limit: Int) throws(ArgumentError) {
        guard let bytes, bytes <= limit else {
            let estimate = bytes.map { "about \($0 >> 20) MiB" } ?? "more than Int.max bytes"
            throw ArgumentError("maxOutput", "is \(limit >> 20) MiB, but the recorded rows would take \(estimate); record fewer rows (--record log, every:N, final) or raise --max-output")
        }
    }

    /// a * b * ..., or nil on overflow.
    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for f in factors {
            let (p, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            result = p
        }
        return result
    }

    /// The bytes the exact solver needs for a problem of dimension d with m linear forms: the Hessian and
    /// its factorization (3 d^2 doubles) and the attainment LP's tableau (d (m + d) doubles); nil past Int.
    public static func denseBytes(dimension d: Int, forms m: Int) -> Int? {
        guard let square = product([d, d]), let tableau = product([d, m + d]) else { return nil }
        let (doubles, overflow) = (3 * square).addingReportingOverflow(tableau)
        return overflow ? nil : product([doubles, 8])
    }

    /// The bytes of the matrix-free solver: the m linear forms (m x d), their Gram matrix and the LP on it
    /// (about 3 m^2), and a dozen vectors of length d; nil past Int.
    public static func matrixFreeBytes(dimension d: Int, forms m: Int) -> Int? {
        guard let forms = product([m, d]), let gram = product([3, m, m]), let vectors = product([12, d]) else { return nil }
        let (a, o1) = forms.addingReportingOverflow(gram)
        let (b, o2) = a.addingReportingOverflow(vectors)
        return o1 || o2 ? nil : product([b, 8])
    }

    /// Whether the exact solver works dense (true) or matrix-free (false) within `limit` bytes; throws when
    /// neither fits.
    public static func solverMode(dimension d: Int, forms m: Int, limit: Int) throws(ArgumentError) -> Bool {
        if let dense = denseBytes(dimension: d, forms: m), dense <= limit { return true }
        if let free = matrixFreeBytes(dimension: d, forms: m), free <= limit { return false }
        let need = matrixFreeBytes(dimension: d, forms: m).map { "\($0 / (1 << 20)) MiB" } ?? "more than Int.max bytes"
        throw ArgumentError("maxMemory", "is \(limit / (1 << 20)) MiB, but even the matrix-free solver for d = \(d) and \(m) linear forms needs \(need); raise --max-memory or use a smaller instance")
    }

    /// Throws unless dense work on dimension d with m forms fits in `limit` bytes.
    public static func checkDense(dimension d: Int, forms m: Int, limit: Int) throws(ArgumentError) {
        guard let bytes = denseBytes(dimension: d, forms: m), bytes <= limit else {
            let need = denseBytes(dimension: d, forms: m).map { "\($0 / (1 << 20)) MiB" } ?? "more than Int.max bytes"
            throw ArgumentError("maxMemory", "is \(limit / (1 << 20)) MiB, but the exact solver for d = \(d) needs \(need) (d x d Hessians); raise --max-memory or use a smaller instance")
        }
    }
}
