import Foundation

/// Runs `body(0) ... body(count - 1)` on up to `threads` threads and returns the results in index order,
/// so that the output never depends on the thread count. Work is handed out one index at a time.
public func parallelMap<T: Sendable>(count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
    let slots = Slots<T>(count: count)
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while let index = slots.claim() {
            slots.store(body(index), at: index)
        }
    }
    return slots.results()
}

/// Result slots and a shared work counter behind one lock.
final class Slots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [T?]
    private var next = 0

    init(count: Int) { values = [T?](repeating: nil, count: count) }

    func claim() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < values.count else { return nil }
        next += 1
        return next - 1
    }

    func store(_ value: T, at index: Int) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }

    func results() -> [T] { values.map { $0! } }
}
