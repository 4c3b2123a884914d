import HTTPServer

extension CrossOriginPolicy {
  /// Browser access to the API as Dolby's browser samples use it: the token routes, every `/media/*` route,
  /// and the storage URLs `POST /media/input` and `/media/output` hand out (a sample PUTs its file to one;
  /// the URL's signature is the credential, no cookie is involved), from `origins`. The dashboard and the
  /// operational routes are not covered.
  public static func api(origins: Origins) -> CrossOriginPolicy {
    CrossOriginPolicy(origins: origins, paths: ["/media/", "/v1/auth/token", "/storage/v1/"])
  }

  /// `server.cors.allowed_origins` as configured: `["*"]` is any origin, anything else exactly those.
  public static func api(configured origins: [String]) -> CrossOriginPolicy {
    api(origins: origins == ["*"] ? .any : .only(Set(origins)))
  }
}
