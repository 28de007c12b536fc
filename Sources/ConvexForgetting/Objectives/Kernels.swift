/// The inner loops every objective shares, on raw pointers. `dot` keeps four partial sums (a fixed
/// association, so results do not depend on the machine) which lets the compiler use vector registers.
enum Kernels {
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var k = 0
        while k + 4 <= n {
            s0 += a[k] * b[k]
            s1 += a[k + 1] * b[k + 1]
            s2 += a[k + 2] * b[k + 2]
            s3 += a[k + 3] * b[k + 3]
            k += 4
        }
        while k < n {
            s0 += a[k] * b[k]
            k += 1
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// y += alpha x.
    @inline(__always)
    static func axpy(_ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        for k in 0..<n { y[k] += alpha * x[k] }
    }
}

/// A loss given datum by datum (the pointer views of DPOLoss and SFTLoss): the mean over the data or a
/// batch is the same loop for both.
protocol DatumLoss {
    var count: Int { get }
    /// Datum i's loss (when `value`), adding `coefficient` times its gradient to `gradient` (when given).
    func datum(_ i: Int, _ theta: UnsafePointer<Double>, coefficient: Double,
               gradient: UnsafeMutablePointer<Double>?, value: Bool) -> Double
    /// Mean loss over the data (or over `batch`, with repetition); adds `scale` times the mean gradient.
    /// By default `meanOverData`; SFT splits large instances into slices on all cores.
    func evaluate(_ theta: UnsafePointer<Double>, batch: UnsafeBufferPointer<Int>?, scale: Double,
                  gradient: UnsafeMutablePointer<Double>?, value: Bool) -> Double
}

extension DatumLoss {
    @inline(__always)
    func evaluate(_ theta: UnsafePointer<Double>, batch: UnsafeBufferPointer<Int>?, scale: Double,
                  gradient: UnsafeMutablePointer<Double>?, value: Bool) -> Double {
        meanOverData(theta, batch: batch, scale: scale, gradient: gradient, value: value)
    }

    /// Mean loss over the data (or over `batch`, with repetition); adds `scale` times the mean gradient.
    @inline(__always)
    func meanOverData(_ theta: UnsafePointer<Double>, batch: UnsafeBufferPointer<Int>?, scale: Double,
                      gradient: UnsafeMutablePointer<Double>?, value: Bool = true) -> Double {
        var total = 0.0
        if let batch {
            let c = scale / Double(batch.count)
            for i in batch { total += datum(i, theta, coefficient: c, gradient: gradient, value: value) }
            return total / Double(batch.count)
        }
        let c = scale / Double(count)
        for i in 0..<count { total += datum(i, theta, coefficient: c, gradient: gradient, value: value) }
        return total / Double(count)
    }
}

/// A loss stored as arrays (DPOLoss, SFTLoss) with a pointer view for the hot loop: the array-level
/// wrappers below are written once for both.
protocol LossStorage: Sendable {
    associatedtype View: DatumLoss
    var dimension: Int { get }
    var count: Int { get }
    func withView<R>(_ body: (View) throws -> R) rethrows -> R
}

extension LossStorage {
    /// The mean loss over the data (or over `batch`, with repetition; every index must be in range); when
    /// `gradient` is given, adds `scale` times the mean gradient to it.
    func evaluate(_ theta: UnsafePointer<Double>, batch: UnsafeBufferPointer<Int>? = nil, scale: Double,
                  gradient: UnsafeMutablePointer<Double>?) -> Double {
        if let batch { precondition(batch.allSatisfy { $0 >= 0 && $0 < count }, "batch index out of range 0..<\(count)") }
        return withView { $0.evaluate(theta, batch: batch, scale: scale, gradient: gradient, value: true) }
    }

    /// The loss of datum i (0 <= i < count) and its gradient, written into `gradient`.
    func datumGradient(_ i: Int, _ theta: UnsafePointer<Double>, into gradient: UnsafeMutablePointer<Double>) -> Double {
        precondition(i >= 0 && i < count, "datum \(i) is out of range 0..<\(count)")
        gradient.update(repeating: 0, count: dimension)
        return withView { $0.datum(i, theta, coefficient: 1, gradient: gradient, value: true) }
    }
}
