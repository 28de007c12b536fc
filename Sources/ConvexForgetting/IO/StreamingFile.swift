import Foundation

/// Streams a file to a temporary name beside the target (`.NAME.PID.tmp`) and renames it into place on
/// `commit()`; if the writer is dropped without committing, the temporary file is removed and the target
/// is untouched. The temporary is registered with `OutputCleanup`, whose signal handlers remove it.
public final class StreamingFile {
    public let path: String
    let temporary: String
    private var handle: UnsafeMutablePointer<FILE>?
    /// The temporary file is there (and registered for removal on a signal).
    private var temporaryExists = false

    public init(path: String) throws(OutputError) {
        let temporary = OutputCleanup.temporaryPath(for: path)
        var code: Int32 = 0
        var opened: UnsafeMutablePointer<FILE>?
        let created = OutputCleanup.creating(temporary) {
            opened = fopen(temporary, "w")
            code = errno
            return opened != nil
        }
        guard created, let opened else {
            throw OutputError(path: path, message: "cannot create a file in its directory: \(OutputCleanup.errorText(code == 0 ? EINTR : code))")
        }
        self.path = path
        self.temporary = temporary
        handle = opened
        temporaryExists = true
    }

    public func write(_ text: String) {
        guard let handle else { return }
        fputs(text, handle)
    }

    public func write(_ data: Data) {
        guard let handle else { return }
        data.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, handle) }
    }

    public func commit() throws(OutputError) {
        guard let h = handle else { return }
        handle = nil
        let failed = ferror(h) != 0
        guard fclose(h) == 0, !failed else {
            discard()
            throw OutputError(path: path, message: "write failed (disk full?)")
        }
        let renamed = OutputCleanup.removing(temporary) {
            if rename(temporary, path) == 0 { return 0 }
            let code = errno
            unlink(temporary)
            return code
        }
        temporaryExists = false
        guard renamed == 0 else {
            throw OutputError(path: path, message: "cannot rename the temporary file into place: \(OutputCleanup.errorText(renamed))")
        }
    }

    deinit {
        discard()
    }

    /// Closes and removes the temporary (if still there).
    private func discard() {
        if let h = handle {
            handle = nil
            fclose(h)
        }
        if temporaryExists {
            temporaryExists = false
            _ = OutputCleanup.removing(temporary) { unlink(temporary) }
        }
    }
}
