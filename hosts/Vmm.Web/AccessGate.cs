using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Vmm.Web;

/// <summary>
/// Who may ask and how much: without <see cref="WebOptions.AccessToken"/> only loopback clients are served; with it, every
/// request carries it (<c>Authorization: Bearer TOKEN</c>, or once <c>?token=TOKEN</c> in a browser, which sets a cookie).
/// Bodies are bounded by <see cref="WebOptions.MaxRequestBytes"/>.
/// </summary>
public sealed class AccessGate(RequestDelegate next, IOptions<WebOptions> options)
{
    public const string CookieName = "vmm-token";
    public const string QueryName = "token";

    public async Task InvokeAsync(HttpContext context)
    {
        var settings = options.Value;
        if (context.Request.ContentLength > settings.MaxRequestBytes) throw WebProblemException.TooLarge(settings.MaxRequestBytes);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body) body.MaxRequestBodySize = settings.MaxRequestBytes;

        if (settings.AccessToken is not { Length: > 0 } token)
        {
            if (context.Connection.RemoteIpAddress is { } remote && !IPAddress.IsLoopback(remote))
                throw new WebProblemException(StatusCodes.Status401Unauthorized, "this server answers only its own machine unless it has an access token; start it with --Vmm:AccessToken=TOKEN to serve others");
            await next(context);
            return;
        }

        if (context.Request.Query.TryGetValue(QueryName, out var fromQuery) && Matches(fromQuery.ToString(), token) && !ErrorPages.IsApi(context.Request))
        {
            context.Response.Cookies.Append(CookieName, token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, IsEssential = true });
            context.Response.Redirect(context.Request.Path.HasValue ? context.Request.PathBase + context.Request.Path : "/");
            return;
        }
        var presented = Bearer(context.Request) ?? context.Request.Cookies[CookieName];
        if (presented is null || !Matches(presented, token))
            throw new WebProblemException(StatusCodes.Status401Unauthorized, "this server needs its access token: send Authorization: Bearer TOKEN, or open any page once with ?token=TOKEN");
        await next(context);
    }

    /// <summary>
    /// Refuses a configuration that listens beyond loopback without a token; <paramref name="urls"/> is what --urls,
    /// ASPNETCORE_URLS or "Urls" give, <paramref name="ports"/> ASPNETCORE_HTTP_PORTS (every address).
    /// </summary>
    public static string? ListenProblem(string? urls, string? ports, string? token)
    {
        if (token is { Length: > 0 }) return null;
        if (!string.IsNullOrWhiteSpace(ports) && string.IsNullOrWhiteSpace(urls))
            return $"HTTP_PORTS={ports} listens on every address; set --urls http://localhost:PORT, or give an access token with --Vmm:AccessToken=TOKEN";
        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var host = HostOf(url);
            if (!IsLoopback(host))
                return $"--urls {url} listens beyond this machine; give an access token with --Vmm:AccessToken=TOKEN (clients then send Authorization: Bearer TOKEN), or listen on localhost";
        }
        return null;
    }

    private static string HostOf(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal);
        var rest = start < 0 ? url : url[(start + 3)..];
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']', StringComparison.Ordinal);
            return close < 0 ? rest : rest[1..close];
        }
        var end = rest.IndexOfAny([':', '/']);
        return end < 0 ? rest : rest[..end];
    }

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    private static string? Bearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    private static bool Matches(string presented, string token) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}
