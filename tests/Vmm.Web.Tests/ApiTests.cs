using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;
using Vmm.Tests.Infrastructure;

namespace Vmm.Web.Tests;

/// <summary>The JSON API through WebApplicationFactory: validation errors, runs, memory maps, comparisons, history, limits and the access token.</summary>
public sealed class ApiTests : IClassFixture<ApiTests.Server>
{
    public sealed class Server : IDisposable
    {
        internal ScratchDirectory Scratch { get; } = new();

        public WebFactory Factory { get; }

        public Server() => Factory = new WebFactory(new Dictionary<string, string?> { ["Vmm:Store"] = Path.Combine(Scratch.Path, "runs.db") });

        public void Dispose()
        {
            Factory.Dispose();
            Scratch.Dispose();
        }
    }

    /// <summary>A two-step scenario whose second expectation is wrong (the kernel reads zeros, not the data).</summary>
    internal const string FailingScenario = """
        {
          "name": "kernel read of TD memory",
          "components": { "memory": "tdx-ci", "policy": "none" },
          "vms": [ { "name": "td1", "memory": "8M", "protected": true, "backing": "shmem" } ],
          "steps": [
            { "op": "guest.write", "vm": "td1", "gpa": "0x3000", "data": "0x5555aaaa", "expect": "ok" },
            { "op": "kernel.read", "vm": "td1", "gpa": "0x3000", "len": 4, "expect": { "ok": { "data": "0x5555aaaa" } } }
          ]
        }
        """;

    private readonly Server _server;
    private readonly HttpClient _client;

    public ApiTests(Server server)
    {
        _server = server;
        _client = server.Factory.CreateClient();
    }

    [Fact]
    public async Task Components_ListsEveryPluginComponentWithOptions()
    {
        var body = await Json.Read(await _client.GetAsync("/api/components"));

        var components = body["components"]!.AsArray();
        Assert.Contains(components, c => (string?)c!["kind"] == "policy" && (string?)c["name"] == "hwpoison-v2" && (string?)c["plugin"] == "HwPoison");
        Assert.Contains(components, c => c!["options"]!.AsArray().Any(o => (string?)o!["key"] == "hwpoison.trackReason"));
        Assert.Contains(body["coreOptions"]!.AsArray(), o => (string?)o!["key"] == "linux.earlyKill");
    }

    [Fact]
    public async Task Validate_BrokenScenario_GivesLineAndColumn()
    {
        var response = await Json.Post(_client, "/api/validate", new { scenario = "{\n  \"name\": \"x\",\n  \"vms\": 7\n}", name = "../../etc/mine.json" });
        var body = await Json.Read(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False((bool)body["valid"]!);
        Assert.Equal("mine.json", (string?)body["error"]!["file"]);
        Assert.Equal(3, (int)body["error"]!["line"]!);
        Assert.Equal(10, (int)body["error"]!["column"]!);
    }

    [Fact]
    public async Task Run_InvalidScenario_Is400WithTheErrorsLocation()
    {
        var response = await Json.Post(_client, "/api/run", new { scenario = FailingScenario.Replace("\"kernel.read\"", "\"kernel.reed\"", StringComparison.Ordinal) });
        var body = await Json.Read(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(body["scenarios"]!.AsArray());
        Assert.Equal(7, (int)body["errors"]![0]!["line"]!);
        Assert.Contains("kernel.reed", (string?)body["errors"]![0]!["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WrongExpectation_ReportsTheFailingStepWithExpectedAndActual()
    {
        var response = await Json.Post(_client, "/api/run", new { scenario = FailingScenario });
        var scenario = (await Json.Read(response))["scenarios"]![0]!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False((bool)scenario["passed"]!);
        Assert.True((bool)scenario["steps"]![0]!["passed"]!);
        Assert.False((bool)scenario["steps"]![1]!["passed"]!);
        Assert.Equal("0x00000000", (string?)scenario["steps"]![1]!["actual"]!["ok"]!["data"]);
    }

    [Fact]
    public async Task Run_StartByName_RunsTheOfferedFileAndRefusesAnyOtherName()
    {
        var names = (await Json.Read(await _client.GetAsync("/api/scenarios"))).AsArray().Select(n => (string?)n).ToList();
        var ran = await Json.Post(_client, "/api/run", new { start = "examples/tdx-kernel-read-sees-zeros.json" });
        var escape = await Json.Post(_client, "/api/run", new { start = "../plugins.json" });

        Assert.Contains("examples/tdx-kernel-read-sees-zeros.json", names);
        Assert.DoesNotContain(names, n => n!.Contains("..", StringComparison.Ordinal));
        Assert.True((bool)(await Json.Read(ran))["scenarios"]![0]!["passed"]!);
        Assert.Equal(HttpStatusCode.NotFound, escape.StatusCode);
        Assert.Contains("no scenario", (string?)(await Json.Read(escape))["error"]!["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task MemoryMap_GivesAFramePerStepWithACellPerPage()
    {
        var response = await Json.Post(_client, "/api/memory-map", new { scenario = FailingScenario });
        var body = await Json.Read(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var frames = body["frames"]!.AsArray();
        Assert.Equal(3, frames.Count);
        var cells = (string)frames[2]!["vms"]![0]!["cells"]!;
        Assert.Equal(2048, cells.Length);
        Assert.All(cells, c => Assert.Equal('p', c));
    }

    [Fact]
    public async Task Compare_TwoStacksOneWorkload_GivesTableClaimsAndConclusions()
    {
        var response = await Json.Post(_client, "/api/compare", new { stacks = new[] { "tdx-ci+none", "tdx-ci+hwpoison-v2" }, workloads = new[] { "malicious-vmm" } });
        var body = await Json.Read(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("tdx-ci+none", (string?)body["baseline"]);
        var rows = body["workloads"]![0]!["stacks"]!.AsArray();
        Assert.Equal(["tdx-ci+none", "tdx-ci+hwpoison-v2"], rows.Select(r => (string?)r!["stack"]));
        Assert.Contains(body["claims"]!.AsArray(), c => (string?)c!["verdict"] == "holds");
        Assert.NotEmpty(body["conclusions"]!.AsArray());
    }

    [Fact]
    public async Task Compare_UnknownStack_Is400NamingIt()
    {
        var response = await Json.Post(_client, "/api/compare", new { stacks = new[] { "tdx-ci+nope" }, workloads = new[] { "boot" } });
        var message = (string?)(await Json.Read(response))["error"]!["message"];

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("nope", message, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_ListsWebComparisonsAndDiffsTwo()
    {
        await Json.Post(_client, "/api/compare", new { stacks = new[] { "plain+none" }, workloads = new[] { "boot" }, seed = 1 });
        await Json.Post(_client, "/api/compare", new { stacks = new[] { "plain+none" }, workloads = new[] { "boot" }, seed = 2 });

        var runs = (await Json.Read(await _client.GetAsync("/api/history"))).AsArray();
        var ids = runs.Select(r => (long)r!["id"]!).ToList();
        var diff = await _client.GetAsync($"/api/history/diff?before={ids[^2]}&after={ids[^1]}");
        var missing = await _client.GetAsync("/api/history/diff?before=1&after=999999");

        Assert.True(runs.Count >= 2);
        Assert.Equal(HttpStatusCode.OK, diff.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("999999", (string?)(await Json.Read(missing))["error"]!["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenApi_DescribesTheEndpoints()
    {
        var document = await Json.Read(await _client.GetAsync("/openapi/v1.json"));

        foreach (var path in new[] { "/api/components", "/api/validate", "/api/run", "/api/memory-map", "/api/compare", "/api/history" })
            Assert.NotNull(document["paths"]![path]);
    }

    [Fact]
    public async Task BadInput_IsAClear4xxWithoutAStackTrace()
    {
        var notJson = await _client.PostAsync("/api/run", new StringContent("{ nope", Encoding.UTF8, "application/json"));
        var wrongType = await _client.PostAsync("/api/run", new StringContent("x", Encoding.UTF8, "text/plain"));
        var unknown = await _client.GetAsync("/api/nothing");
        var page = await _client.GetAsync("/no-such-page");

        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongType.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        foreach (var response in new[] { notJson, wrongType, unknown, page })
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        }
        Assert.Contains("not the JSON", await notJson.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

/// <summary>Request size, concurrency and time limits, and who may ask.</summary>
public sealed class LimitTests
{
    [Fact]
    public async Task OversizedBody_Is413_AnnouncedOrNot()
    {
        using var factory = new WebFactory(new Dictionary<string, string?> { ["Vmm:MaxRequestBytes"] = "2000" });
        using var client = factory.CreateClient();
        var big = Json.Text(new { scenario = new string(' ', 5000) });

        var announced = await client.PostAsync("/api/run", new StringContent(big, Encoding.UTF8, "application/json"));
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/run") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        var unannounced = await client.SendAsync(request);
        var small = await Json.Post(client, "/api/validate", new { scenario = "{}" });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, announced.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, unannounced.StatusCode);
        Assert.Contains("2000 bytes", await announced.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
    }

    [Fact]
    public async Task BusyServer_RefusesAtOnceWith503_AndALongComparisonIsStoppedByTheTimeLimit()
    {
        using var factory = new WebFactory(new Dictionary<string, string?>
        {
            ["Vmm:MaxConcurrentRuns"] = "1",
            // Long enough that a loaded machine (the whole suite runs its assemblies side by side) still sends the second request inside it.
            ["Vmm:RunTimeoutSeconds"] = "4",
            ["Vmm:MaxCompareRuns"] = "1000000",
        });
        using var client = factory.CreateClient();

        var started = await Json.Post(client, "/api/compare/jobs", new { repeat = 300 });
        var id = (string)(await Json.Read(started))["id"]!;
        var refused = await Json.Post(client, "/api/run", new { scenario = ApiTests.FailingScenario });
        var job = await Json.Read(await client.GetAsync($"/api/compare/jobs/{id}"));
        for (var i = 0; i < 200 && !(bool)job["finished"]!; i++)
        {
            await Task.Delay(100);
            job = await Json.Read(await client.GetAsync($"/api/compare/jobs/{id}"));
        }
        // The stopped comparison holds its slot until its worker has really ended, then the server takes runs again.
        var afterwards = await Json.Post(client, "/api/run", new { scenario = ApiTests.FailingScenario });
        for (var i = 0; i < 100 && afterwards.StatusCode == HttpStatusCode.ServiceUnavailable; i++)
        {
            await Task.Delay(100);
            afterwards = await Json.Post(client, "/api/run", new { scenario = ApiTests.FailingScenario });
        }

        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal("failed", (string?)job["status"]);
        Assert.Equal(503, (int)job["error"]!["status"]!);
        Assert.Contains("longer than 4 s", (string?)job["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
    }

    [Fact]
    public async Task TooBigComparison_Is400()
    {
        using var factory = new WebFactory(new Dictionary<string, string?> { ["Vmm:MaxCompareRuns"] = "3" });
        using var client = factory.CreateClient();

        var response = await Json.Post(client, "/api/compare", new { stacks = new[] { "plain+none", "tdx-ci+none" }, workloads = new[] { "boot", "discard" } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("4 runs", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithAToken_EveryRequestMustCarryIt()
    {
        using var factory = new WebFactory(new Dictionary<string, string?> { ["Vmm:AccessToken"] = "s3cret" });
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var none = await client.GetAsync("/api/components");
        var wrong = await Send(client, "/api/components", "nope");
        var right = await Send(client, "/api/components", "s3cret");
        var page = await client.GetAsync("/");
        var viaQuery = await client.GetAsync("/run?token=s3cret");

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Contains("access token", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, viaQuery.StatusCode);
        Assert.Contains("vmm-token=s3cret", viaQuery.Headers.GetValues("Set-Cookie").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAToken_ARequestFromAnotherMachineIs401()
    {
        using var factory = new WebFactory(remote: IPAddress.Parse("10.1.2.3"));
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/api/components");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Vmm:AccessToken", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokenPluginsFile_EveryPageSaysWhatIsWrongWithoutAStackTrace()
    {
        using var scratch = new ScratchDirectory();
        var plugins = scratch.PluginsJson(("Gone", "gone/Gone.dll"));
        using var factory = new WebFactory(new Dictionary<string, string?> { ["Vmm:Plugins"] = plugins });
        using var client = factory.CreateClient();

        var page = await client.GetAsync("/");
        var api = await client.GetAsync("/api/components");
        var text = await page.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, page.StatusCode);
        Assert.Contains("the plugins could not be loaded", text, StringComparison.Ordinal);
        Assert.Contains("Gone.dll", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.Contains("Gone", (string?)(await Json.Read(api))["error"]!["message"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://localhost:5180", null, null, true)]
    [InlineData("http://127.0.0.1:0;http://[::1]:5000", null, null, true)]
    [InlineData("http://0.0.0.0:5180", null, null, false)]
    [InlineData("http://*:5180", null, null, false)]
    [InlineData("http://192.168.1.10:80", null, null, false)]
    [InlineData(null, "8080", null, false)]
    [InlineData("http://0.0.0.0:5180", null, "token", true)]
    public void ListenProblem_BeyondLoopbackNeedsAToken(string? urls, string? ports, string? token, bool allowed) =>
        Assert.Equal(allowed, AccessGate.ListenProblem(urls, ports, token) is null);

    [Fact]
    public void Build_OnEveryAddressWithoutAToken_RefusesToStart() =>
        Assert.Null(VmmWeb.Build(["--urls", "http://0.0.0.0:5999"]));

    private static Task<HttpResponseMessage> Send(HttpClient client, string path, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client.SendAsync(request);
    }
}
