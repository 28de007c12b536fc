import CLinearAlgebra

/// The package's only doorway to C: a few wrappers over OpenBLAS (CBLAS) and LAPACKE.
///
/// Matrices are dense, row-major `[Double]` of `n * n` (or `rows * cols`) entries. Nothing else in the
/// package imports `CLinearAlgebra`.
public enum LinearAlgebra {
    /// A LAPACK routine reported failure (`info != 0`).
    public struct Failure: Error, CustomStringConvertible {
        public let routine: String
        public let info: Int32
        public var description: String { "\(routine) failed with info = \(info)" }
    }

    /// All eigenvalues of the symmetric `n x n` matrix `a` (upper triangle read), ascending.
    public static func symmetricEigenvalues(_ a: [Double], n: Int) throws -> [Double] {
        try eigen(a, n: n, vectors: false).values
    }

    /// Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix: column k of the row-major
    /// `vectors` (entries vectors[i * n + k]) belongs to values[k].
    public static func symmetricEigen(_ a: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        try eigen(a, n: n, vectors: true)
    }

    /// LAPACKE_dsyevd, jobz = 'V' or 'N'; with 'N' the returned `vectors` is scratch.
    static func eigen(_ a: [Double], n: Int, vectors: Bool) throws -> (values: [Double], vectors: [Double]) {
        precondition(a.count == n * n, "matrix must be n x n")
        var work = a
        var w = [Double](repeating: 0, count: n)
        let jobz = Int8(UInt8(ascii: vectors ? "V" : "N"))
        let info = work.withUnsafeMutableBufferPointer { ap in
            w.withUnsafeMutableBufferPointer { wp in
                LAPACKE_dsyevd(LAPACK_ROW_MAJOR, jobz, Int8(UInt8(ascii: "U")), Int32(n), ap.baseAddress, Int32(n), wp.baseAddress)
            }
        }
        guard info == 0 else { throw Failure(routine: "LAPACKE_dsyevd", info: info) }
        return (w, work)
    }

    /// The smallest eigenvalue of a symmetric matrix (the PSD check of Prop. A.2).
    public static func minimumEigenvalue(_ a: [Double], n: Int) throws -> Double {
        try symmetricEigenvalues(a, n: n).first ?? 0
    }

    /// Solves `a x = b` for symmetric positive definite `a` by Cholesky (LAPACKE_dposv).
    /// Returns nil when `a` is not numerically positive definite.
    public static func solvePositiveDefinite(_ a: [Double], _ b: [Double], n: Int) -> [Double]? {
        precondition(a.count == n * n && b.count == n)
        var factor = a
        var x = b
        let info = factor.withUnsafeMutableBufferPointer { ap in
            x.withUnsafeMutableBufferPointer { xp in
                LAPACKE_dposv(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "U")), Int32(n), 1,
                              ap.baseAddress, Int32(n), xp.baseAddress, 1)
            }
        }
        return info == 0 ? x : nil
    }

    /// `c += alpha * a^T a` on the upper triangle of the `n x n` row-major `c`, where `a` is `rows x n`
    /// row-major (cblas_dsyrk). Call `symmetrize` afterwards to fill the lower triangle.
    public static func addGram(_ a: UnsafePointer<Double>, rows: Int, n: Int, alpha: Double,
                               into c: UnsafeMutablePointer<Double>) {
        guard rows > 0 else { return }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(rows), alpha, a, Int32(n),
                    1.0, c, Int32(n))
    }

    /// Copies the upper triangle of a row-major `n x n` matrix into its lower triangle.
    public static func symmetrize(_ c: inout [Double], n: Int) {
        for i in 0..<n {
            for j in 0..<i { c[i * n + j] = c[j * n + i] }
        }
    }

    /// Limits OpenBLAS to `n` threads (the sweep runner parallelises over runs instead).
    public static func setThreadCount(_ n: Int) {
        openblas_set_num_threads(Int32(n))
    }
}
