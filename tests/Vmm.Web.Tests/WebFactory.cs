using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Vmm.Web.Tests;

/// <summary>The app in a TestServer with the repository's plugins.json and scenarios/ and the given Vmm:* settings.</summary>
public sealed class WebFactory(IReadOnlyDictionary<string, string?>? settings = null, IPAddress? remote = null) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) builder.UseSetting(key, value);
        if (remote is not null)
            builder.ConfigureServices(services => services.AddSingleton<IStartupFilter>(new RemoteAddress(remote)));
    }

    /// <summary>Makes every request come from <paramref name="address"/>, as if from another machine.</summary>
    private sealed class RemoteAddress(IPAddress address) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((HttpContext context, Func<Task> rest) =>
            {
                context.Connection.RemoteIpAddress = address;
                return rest();
            });
            next(app);
        };
    }
}

internal static class Json
{
    public static async Task<JsonNode> Read(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync()) ?? throw new InvalidOperationException("null JSON");

    public static Task<HttpResponseMessage> Post(HttpClient client, string path, object body) => client.PostAsJsonAsync(path, body);

    public static string Text(object value) => JsonSerializer.Serialize(value);
}
