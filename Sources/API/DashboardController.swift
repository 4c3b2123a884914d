import HTTPServer

/// `GET /dashboard`: a live view of one app's jobs for people, in plain HTML, CSS and JavaScript served from
/// the binary (no build step, nothing fetched from elsewhere). The page holds no data of its own: after the
/// user enters an app key and secret, its script asks `POST /v1/auth/token` for a token and then reads the
/// same JSON API every client uses, so it can show nothing the key could not already read.
///
/// The page, script and style are `Dashboard/dashboard.html`, `.js` and `.css`: edit them there. SwiftPM
/// embeds them in the binary at build time (`.embedInCode`, read as `PackageResources`), so `ferry` stays one
/// file with no resource bundle to find at run time. The Content-Security-Policy allows no inline script or
/// style, so the page loads both from `/dashboard/app.js` and `/dashboard/app.css`, and none of the files may
/// use `style="..."` attributes, inline event handlers or `innerHTML`.
public struct DashboardController: Sendable {
  /// The Content-Security-Policy of every dashboard answer: scripts, styles and requests from this origin
  /// only, no inline code, no frames, no plugins, and no form that could send the credentials anywhere.
  public static let contentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

  public init() {}

  public func register(in router: inout Router) {
    // Built once: the page is constant.
    let page = Self.response(PackageResources.dashboard_html, contentType: "text/html; charset=utf-8")
    let script = Self.response(PackageResources.dashboard_js, contentType: "text/javascript; charset=utf-8")
    let style = Self.response(PackageResources.dashboard_css, contentType: "text/css; charset=utf-8")
    router.get("/dashboard") { _ in page }
    router.get("/dashboard/app.js") { _ in script }
    router.get("/dashboard/app.css") { _ in style }
  }

  /// A dashboard answer with the headers that keep it from being framed, cached, sniffed or leaking the URL.
  static func response(_ body: [UInt8], contentType: String) -> Response {
    Response(
      headers: [
        "Content-Type": contentType, "Content-Security-Policy": contentSecurityPolicy, "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
      ], body: body)
  }
}
