namespace Vmm.Web;

/// <summary>A request that cannot be served, with the status and the sentence the error page or the API's error body shows.</summary>
public sealed class WebProblemException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static WebProblemException BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public static WebProblemException NotFound(string message) => new(StatusCodes.Status404NotFound, message);

    public static WebProblemException TooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"the request is larger than this server accepts ({limit} bytes, Vmm:MaxRequestBytes)");
}
