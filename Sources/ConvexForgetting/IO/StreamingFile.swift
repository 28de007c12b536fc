import Foundation

/// Streams a file to a temporary name beside the target (`.NAME.PID.tmp`) and renames it into place on
/// `commit()`; if the writer is dropped without committing, the temporary file is removed and the target
/// is untouched.
///
/// - A failed write throws at once (the temporary is removed), so a run on a full disk stops at the first
///   failing write instead of computing to the end. Writes are buffered `bufferSize` bytes at a time: the
///   failure surfaces on the write that overflows the buffer.
/// - The temporary is registered with `OutputCleanup`, whose signal handlers remove it.
/// - `exclusive` outputs are owned: a second writer of the same path (any process) fails at once with
///   "another run is writing this file" (an flock on `.NAME.lock` beside the target).
public final class StreamingFile {
    public let path: String
    let temporary: String
    private var handle: UnsafeMutablePointer<FILE>?
    private let buffer: UnsafeMutableRawPointer
    private var lock: OutputLock?
    /// The temporary file is there (and registered for removal on a signal).
    private var temporaryExists = false
    /// The error that ended the file: every later call throws it again.
    private var failure: OutputError?

    /// The stdio buffer: a write error is reported by the write that overflows it.
    static let bufferSize = 1 << 16

    public convenience init(path: String, exclusive: Bool = false) throws(OutputError) {
        try self.init(path: path, exclusive: exclusive) { fopen($0, "w") }
    }

    /// `open` creates the temporary file at the path it is given and returns a stream on it (tests pass
    /// one that writes somewhere else, such as /dev/full).
    init(path: String, exclusive: Bool, open: (String) -> UnsafeMutablePointer<FILE>?) throws(OutputError) {
        // Everything that can fail comes before the stored properties are set, so that a throw never runs deinit.
        try AtomicFile.checkReplaceable(path)
        let temporary = OutputCleanup.temporaryPath(for: path)
        let lock = exclusive ? try OutputLock.acquire(for: path) : nil
        var code: Int32 = 0
        var opened: UnsafeMutablePointer<FILE>?
        let created = OutputCleanup.creating(temporary) {
            opened = open(temporary)
            code = errno
            return opened != nil
        }
        guard created, let opened else {
            lock?.release()
            throw OutputError(path: path, message: "cannot create a file in its directory: \(OutputCleanup.errorText(code == 0 ? EINTR : code))")
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        setvbuf(opened, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, Self.bufferSize)
        self.path = path
        self.temporary = temporary
        self.buffer = buffer
        self.lock = lock
        handle = opened
        temporaryExists = true
    }

    public func write(_ text: String) throws(OutputError) {
        let handle = try writable()
        var text = text
        errno = 0
        let (written, count) = text.withUTF8 { (fwrite($0.baseAddress, 1, $0.count, handle), $0.count) }
        let code = errno
        if written != count || ferror(handle) != 0 { throw abandon(writeFailure(code)) }
    }

    public func write(_ data: Data) throws(OutputError) {
        let handle = try writable()
        errno = 0
        let (written, count) = data.withUnsafeBytes { (fwrite($0.baseAddress, 1, $0.count, handle), $0.count) }
        let code = errno
        if written != count || ferror(handle) != 0 { throw abandon(writeFailure(code)) }
    }

    /// Flushes and closes the file, renames it over the target and releases the lock.
    public func commit() throws(OutputError) {
        if let failure { throw failure }
        guard let h = handle else { return }
        handle = nil
        errno = 0
        var code: Int32 = 0
        if fflush(h) != 0 || ferror(h) != 0 { code = errno == 0 ? EIO : errno }
        if fclose(h) != 0, code == 0 { code = errno }
        if code != 0 { throw abandon(writeFailure(code)) }
        let renamed = OutputCleanup.removing(temporary) {
            if rename(temporary, path) == 0 { return 0 }
            let code = errno
            unlink(temporary)
            return code
        }
        temporaryExists = false
        guard renamed == 0 else {
            throw abandon("cannot rename the temporary file into place: \(OutputCleanup.errorText(renamed))")
        }
        lock?.release()
        lock = nil
    }

    deinit {
        discard()
        buffer.deallocate()
    }

    private func writable() throws(OutputError) -> UnsafeMutablePointer<FILE> {
        if let failure { throw failure }
        guard let handle else { preconditionFailure("\(path): written after commit") }
        return handle
    }

    private func writeFailure(_ code: Int32) -> String {
        "write failed: \(OutputCleanup.errorText(code == 0 ? EIO : code)) (disk full?)"
    }

    /// Ends the file with an error: the temporary is removed and the lock released.
    private func abandon(_ message: String) -> OutputError {
        let error = OutputError(path: path, message: message)
        failure = error
        discard()
        return error
    }

    /// Closes and removes the temporary (if still there) and releases the lock.
    private func discard() {
        if let h = handle {
            handle = nil
            fclose(h)
        }
        if temporaryExists {
            temporaryExists = false
            _ = OutputCleanup.removing(temporary) { unlink(temporary) }
        }
        lock?.release()
        lock = nil
    }
}
