import Foundation
import Transfer

/// `ferry health`: one `GET <server>/health`, for container health checks. Through the client's libcurl, so an
/// https server whose certificate a private CA issued is checked against `caFile` (`--ca-file`,
/// `FERRY_CA_FILE`).
public enum HealthCheck {
  /// The status `/health` answered, or why nothing did. One attempt, five seconds at most.
  public static func status(of server: String, caFile: String?) -> Result<Int, ClientError> {
    let everywhere = NetworkPolicy(rules: [
      .network(IPAddress("0.0.0.0")!, prefix: 0), .network(IPAddress("::")!, prefix: 0),
    ])
    let settings = TransferSettings(
      maxBytes: 1 << 20, connectTimeout: .seconds(3), lowSpeedTimeout: .seconds(5), maxDuration: .seconds(5),
      maxAttempts: 1, maxRedirects: 0, caFile: caFile)
    let client = TransferClient(policy: everywhere, settings: settings)
    do {
      return .success(try client.call(OutboundRequest(url: server + "/health"), method: "GET").status)
    } catch {
      if case .status(let code, _) = error.primary { return .success(code) }
      return .failure(ClientError(.unreachable, "\(server)/health: \(error)"))
    }
  }
}
