using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Vmm.Web;

var app = VmmWeb.Build(args);
if (app is null) return 2;
await app.RunAsync();
return 0;

/// <summary>The entry point (WebApplicationFactory&lt;Program&gt; starts it in tests).</summary>
public partial class Program;

namespace Vmm.Web
{
    /// <summary>Builds the app: services, limits, the access gate, pages, static files and the API.</summary>
    public static class VmmWeb
    {
        /// <summary>The app for <paramref name="args"/>, or null (with the reason on stderr) when it must not start: listening beyond loopback without a token.</summary>
        public static WebApplication? Build(string[] args, Action<WebApplicationBuilder>? configure = null)
        {
            // The build output holds appsettings.json and wwwroot/, so `dotnet run --project hosts/Vmm.Web` works from any directory.
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions
            {
                Args = args,
                ContentRootPath = AppContext.BaseDirectory,
                ApplicationName = typeof(VmmWeb).Assembly.GetName().Name, // where the pages are, also when a test process builds the app
            });
            configure?.Invoke(builder);
            var settings = builder.Configuration.GetSection(WebOptions.Section).Get<WebOptions>() ?? new WebOptions();
            if (AccessGate.ListenProblem(builder.Configuration["urls"], builder.Configuration["http_ports"], settings.AccessToken) is { } problem)
            {
                Console.Error.WriteLine($"vmm-web: {problem}");
                return null;
            }

            builder.Services.Configure<WebOptions>(builder.Configuration.GetSection(WebOptions.Section));
            builder.Services.AddSingleton<RunGate>();
            builder.Services.AddSingleton<Engine>();
            builder.Services.AddSingleton<CompareJobs>();
            builder.Services.AddRazorPages();
            builder.Services.AddOpenApi();
            // From the options, not from settings: a test's configuration arrives only when the app is built.
            builder.Services.AddOptions<FormOptions>().Configure<IOptions<WebOptions>>((form, web) =>
            {
                form.MultipartBodyLengthLimit = web.Value.MaxRequestBytes;
                form.ValueLengthLimit = (int)Math.Min(int.MaxValue, web.Value.MaxRequestBytes);
            });
            builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<WebOptions>>((kestrel, web) => kestrel.Limits.MaxRequestBodySize = web.Value.MaxRequestBytes);

            var app = builder.Build();
            app.UseErrorPages();
            app.UseStatusCodePages(context => ErrorPages.WriteBare(context.HttpContext));
            app.UseMiddleware<AccessGate>();
            app.UseStaticFiles();
            app.UseRouting();
            app.UseAntiforgery();
            app.MapOpenApi();
            app.MapRazorPages();
            app.MapVmmApi();
            return app;
        }
    }
}
