using System.Net;
using System.Text.Json;
using Vmm.Hosting;
using Vmm.Store;

namespace Vmm.Web;

/// <summary>
/// Turns every failure into a status and a sentence: JSON <c>{"error": {"status", "message"}}</c> under /api/, a short
/// HTML page elsewhere. Bad input is a 4xx naming what to change; a bug is a 500 that says so, its stack trace only in the log.
/// </summary>
public static partial class ErrorPages
{
    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
        public static partial void Failed(ILogger logger, Exception error, string method, string path);
    }

    public static WebProblemException ProblemOf(Exception error) => error switch
    {
        WebProblemException problem => problem,
        InvalidScenarioException scenario => WebProblemException.BadRequest(scenario.Diagnostic.ToString()),
        ComparisonException comparison => WebProblemException.BadRequest(comparison.Message),
        StoreException store => WebProblemException.BadRequest($"history store: {store.Message}"),
        PluginLoadException plugins => new WebProblemException(StatusCodes.Status500InternalServerError, $"the plugins could not be loaded, so nothing can run: {plugins.Message}"),
        BadHttpRequestException request => new WebProblemException(request.StatusCode, request.StatusCode == StatusCodes.Status413PayloadTooLarge ? "the request is larger than this server accepts (Vmm:MaxRequestBytes)" : request.Message),
        InvalidDataException form => new WebProblemException(StatusCodes.Status413PayloadTooLarge, $"the form is larger than this server accepts ({form.Message})"),
        JsonException json => WebProblemException.BadRequest($"the body is not the JSON this endpoint takes: {json.Message}"),
        _ => new WebProblemException(StatusCodes.Status500InternalServerError, "internal error (a bug; the server's log has the details)"),
    };

    /// <summary>Catches what the pages and endpoints throw; a response already under way is left to end as it can.</summary>
    public static IApplicationBuilder UseErrorPages(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            var problem = ProblemOf(e);
            if (problem.Status >= 500 && e is not WebProblemException)
                Log.Failed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Vmm.Web"), e, context.Request.Method, context.Request.Path);
            context.Response.Clear();
            await Write(context, problem);
        }
    });

    /// <summary>Writes <paramref name="problem"/> as the response (its status, Retry-After on 503, JSON or HTML by path).</summary>
    public static async Task Write(HttpContext context, WebProblemException problem)
    {
        context.Response.StatusCode = problem.Status;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable) context.Response.Headers.RetryAfter = "5";
        if (problem.Status == StatusCodes.Status401Unauthorized) context.Response.Headers.WWWAuthenticate = "Bearer";
        if (IsApi(context.Request))
        {
            await context.Response.WriteAsJsonAsync(new ApiError(new ApiErrorBody(problem.Status, problem.Message)));
            return;
        }
        context.Response.ContentType = "text/html; charset=utf-8";
        var title = $"{problem.Status} {ReasonOf(problem.Status)}";
        await context.Response.WriteAsync(
            $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>{title} · Vmm</title><link rel="stylesheet" href="/site.css"></head>
            <body><main class="error-page"><h1>{title}</h1><p class="error-message">{WebUtility.HtmlEncode(problem.Message)}</p><p><a href="/">Back to the components</a></p></main></body></html>
            """);
    }

    /// <summary>Gives a body to a status that routing or the framework set without one (404, 405, 415).</summary>
    public static Task WriteBare(HttpContext context)
    {
        var request = context.Request;
        var status = context.Response.StatusCode;
        if (context.Response.HasStarted || context.Response.ContentLength > 0) return Task.CompletedTask;
        var message = status switch
        {
            404 when IsApi(request) => $"no API endpoint {request.Method} {request.Path}; see /openapi/v1.json",
            404 => $"nothing at {request.Path}",
            405 => $"{request.Path} does not take {request.Method}",
            415 => "send the body as application/json",
            _ => "the request was refused",
        };
        return Write(context, new WebProblemException(status, message));
    }

    public static bool IsApi(HttpRequest request) => request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase);

    private static string ReasonOf(int status) => status switch
    {
        400 => "Bad request",
        401 => "Access token required",
        404 => "Not found",
        405 => "Method not allowed",
        413 => "Request too large",
        415 => "Unsupported media type",
        429 => "Too many requests",
        500 => "Server error",
        503 => "Busy",
        _ => "Error",
    };
}

/// <summary>The body of every API error.</summary>
public sealed record ApiError(ApiErrorBody Error);

public sealed record ApiErrorBody(int Status, string Message);
