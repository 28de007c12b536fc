import Foundation

/// Streams a file to a temporary name beside the target and renames it into place on `commit()`; if
/// the writer is dropped without committing, the temporary file is removed and the target is untouched.
public final class StreamingFile {
    public let path: String
    private let temporary: String
    private var handle: UnsafeMutablePointer<FILE>?

    public init(path: String) throws(OutputError) {
        self.path = path
        let url = URL(fileURLWithPath: path)
        temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp").path
        guard let h = fopen(temporary, "w") else {
            throw OutputError(path: path, message: "cannot create a file in its directory (errno \(errno))")
        }
        handle = h
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
            unlink(temporary)
            throw OutputError(path: path, message: "write failed (disk full?)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw OutputError(path: path, message: "cannot rename the temporary file into place (errno \(errno))")
        }
    }

    deinit {
        if let handle {
            fclose(handle)
            unlink(temporary)
        }
    }
}
