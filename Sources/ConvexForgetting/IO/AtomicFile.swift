import Foundation

/// An output file could not be written (or would overwrite an existing one).
public struct OutputError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// Writes files whole or not at all: the data goes to a temporary name beside the target, and is renamed
/// over the final name only when complete, so an interrupted run never leaves a truncated file there.
public enum AtomicFile {
    /// Fails unless `path` can be written: its directory exists and is writable, and (without `force`)
    /// no file is there yet. Call before the work starts.
    public static func checkWritable(_ path: String, force: Bool) throws(OutputError) {
        guard !path.isEmpty else { throw OutputError(path: path, message: "is empty: name an output file") }
        try checkReplaceable(path)
        let manager = FileManager.default
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OutputError(path: path, message: "directory \(directory) does not exist")
        }
        guard manager.isWritableFile(atPath: directory) else {
            throw OutputError(path: path, message: "directory \(directory) is not writable")
        }
        var targetIsDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &targetIsDirectory) {
            guard !targetIsDirectory.boolValue else { throw OutputError(path: path, message: "is a directory; name a file") }
            if !force { throw OutputError(path: path, message: "already exists (pass --force to overwrite)") }
        }
    }

    /// Fails when `path` exists but is not a regular file (a device, FIFO, socket, directory or symbolic
    /// link, dangling or not): the rename that commits an output would replace it, so even --force may not.
    public static func checkReplaceable(_ path: String) throws(OutputError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }  // nothing there
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw OutputError(path: path, message: "is a directory; name a file")
        case S_IFLNK: throw OutputError(path: path, message: "is a symbolic link; name the file itself (outputs never replace links)")
        default: throw OutputError(path: path, message: "is not a regular file (a device, FIFO or socket); outputs never replace one")
        }
    }

    /// Writes `contents` to `path` through a temporary file and a rename.
    public static func write(_ contents: String, to path: String) throws(OutputError) {
        try write(Data(contents.utf8), to: path)
    }

    public static func write(_ data: Data, to path: String) throws(OutputError) {
        let file = try StreamingFile(path: path)
        try file.write(data)
        try file.commit()
    }
}
