using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Vmm.Abstractions;
using Vmm.Hosting;
using Vmm.Hosting.Exporters;
using Vmm.Store;

namespace Vmm.Web;

/// <summary>A scenario to validate, run or map: its JSON text with a name for messages, or <see cref="Start"/>, a name from GET /api/scenarios.</summary>
public sealed record ScenarioRequest(string? Scenario, string? Name, string? Start);

/// <summary>What to compare: stack labels and workload names (empty: the defaults), the baseline stack, the first seed and the seeds per point.</summary>
public sealed record CompareRequest(IReadOnlyList<string>? Stacks, IReadOnlyList<string>? Workloads, string? Baseline, int? Seed, int? Repeat);

public sealed record DiagnosticDto(string File, long Line, long Column, string Message, string Severity)
{
    public static DiagnosticDto Of(Diagnostic d) => new(d.File, d.Line, d.Column, d.Message, d.Severity == DiagnosticSeverity.Warning ? "warning" : "error");
}

public sealed record ValidationDto(bool Valid, string File, string? Name, int Steps, DiagnosticDto? Error, IReadOnlyList<DiagnosticDto> Warnings);

public sealed record OptionDto(string Key, string Type, string Default, string Description);

public sealed record ComponentDto(string Kind, string Name, string Description, string Plugin, string? ProtectedBacking, string? MinimumKernel, IReadOnlyList<OptionDto> Options);

public sealed record PluginDto(string Name, string? Version);

public sealed record ComponentsDto(IReadOnlyList<PluginDto> Plugins, IReadOnlyList<ComponentDto> Components, IReadOnlyList<OptionDto> CoreOptions);

public sealed record VmMapDto(string Vm, long Pages, long PagesPerCell, string Cells);

public sealed record MapFrameDto(int StepsDone, IReadOnlyList<VmMapDto> Vms);

public sealed record PageStateDto(string Code, string State, string Meaning);

public sealed record JobDto(string Id, int Done, int Total, bool Finished, string? Last, ApiErrorBody? Error, string Status);

public sealed record StoredRunDto(long Id, DateTimeOffset Created, string Version, int Seed, int Repeat, string Baseline, string? Kernel, int Runs, IReadOnlyList<string> Stacks, IReadOnlyList<string> Workloads);

public sealed record ChangeDto(string Workload, string Stack, string Metric, double? Before, double? After);

/// <summary>The JSON API under /api/, described at /openapi/v1.json; every page's data comes from the same <see cref="Engine"/> calls.</summary>
public static class Api
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static void MapVmmApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("vmm");

        api.MapGet("/components", (Engine engine) => Components(engine.Host))
            .WithSummary("Every component with its plugin, description and options, and the core's own options.");

        api.MapGet("/scenarios", (Engine engine) => engine.Library.Names)
            .WithSummary("The scenario files this server offers as starts, by name (use one as \"start\").");

        api.MapPost("/validate", async (HttpRequest request, Engine engine) =>
            {
                var scenario = await Scenario(request, engine);
                return Results.Ok(Validation(scenario));
            })
            .Accepts<ScenarioRequest>("application/json")
            .Produces<ValidationDto>()
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .WithSummary("Parses a scenario and checks its components and options without running it; errors carry line and column.");

        api.MapPost("/run", async (HttpRequest request, Engine engine) =>
            {
                var scenario = await Scenario(request, engine);
                if (!scenario.IsValid)
                    return RunDocument(new RunReport([], [scenario.Error!], [], [], Ran: false), StatusCodes.Status400BadRequest);
                var report = await engine.Run(scenario, request.HttpContext.RequestAborted);
                return RunDocument(new RunReport([report], [], [], []), StatusCodes.Status200OK);
            })
            .Accepts<ScenarioRequest>("application/json")
            .Produces<JsonObject>()
            .Produces<JsonObject>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("Runs a scenario and returns each step's expected and actual outcome.")
            .WithDescription("200: the vmm run --json document, scenarios[0] with its steps (expected, actual, passed). 400: the same document with errors[] (file, line, column, message) and no scenario.");

        api.MapPost("/memory-map", async (HttpRequest request, Engine engine) =>
            {
                var scenario = await Scenario(request, engine);
                if (!scenario.IsValid) throw new InvalidScenarioException(scenario.Error!);
                var map = await engine.Map(scenario, request.HttpContext.RequestAborted);
                return Results.Ok(new
                {
                    passed = map.Report.Passed,
                    steps = map.Report.Steps.Select(s => new { s.Index, s.Op, expected = s.ExpectedText, actual = s.ActualText, s.Passed }),
                    states = PageStates.All.Select(l => new PageStateDto(l.Code.ToString(), l.State.ToString(), l.Label)),
                    frames = map.Frames.Select(f => new MapFrameDto(f.StepsDone, f.Vms.Select(v => new VmMapDto(v.Vm, v.Pages, v.PagesPerCell, PageStates.Codes(v.Cells))).ToList())),
                });
            })
            .Accepts<ScenarioRequest>("application/json")
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .WithSummary("Runs a scenario and maps each VM's guest memory before the first step and after each step: one letter per page (or group of pages) per state.");

        api.MapPost("/compare", async (HttpRequest request, Engine engine) =>
            {
                var comparison = Comparison(engine, await Body<CompareRequest>(request));
                var report = await engine.Compare(comparison, null, request.HttpContext.RequestAborted);
                return ComparisonDocument(report);
            })
            .Accepts<CompareRequest>("application/json")
            .Produces<JsonObject>()
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces<ApiError>(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("Runs a comparison and waits for its report.")
            .WithDescription("The vmm compare --export json document: workloads with a row per stack, claims, conclusions.");

        api.MapPost("/compare/jobs", async (HttpRequest request, Engine engine, CompareJobs jobs) =>
            {
                var job = jobs.Start(Comparison(engine, await Body<CompareRequest>(request)));
                return Results.Accepted($"/api/compare/jobs/{job.Id}", Job(job));
            })
            .Accepts<CompareRequest>("application/json")
            .Produces<JobDto>(StatusCodes.Status202Accepted)
            .WithSummary("Starts a comparison and returns at once; poll GET /api/compare/jobs/{id} for its progress.");

        api.MapGet("/compare/jobs/{id}", (string id, CompareJobs jobs) => Job(FindJob(jobs, id)))
            .WithSummary("A started comparison's progress and, once finished, its error or the status to fetch the report with.");

        api.MapGet("/compare/jobs/{id}/report", (string id, CompareJobs jobs) =>
            {
                var job = FindJob(jobs, id);
                if (job.Error is { } error) throw error;
                return job.Report is { } report ? ComparisonDocument(report) : Results.Conflict(new ApiError(new ApiErrorBody(409, $"the comparison has done {job.Done} of {job.Total} runs; try again when it has finished")));
            })
            .WithSummary("A finished comparison's report (the vmm compare --export json document).");

        app.MapGet("/compare/jobs/{id}/charts/{name}.svg", (string id, string name, CompareJobs jobs) =>
            {
                var report = FindJob(jobs, id).Report ?? throw WebProblemException.NotFound("the comparison has not finished");
                var chart = ComparisonCharts.From(report).FirstOrDefault(c => c.Name == name) ?? throw WebProblemException.NotFound($"no chart \"{name}\"; the charts are: {string.Join(", ", ComparisonCharts.From(report).Select(c => c.Name))}");
                return Results.Text(Charts.ChartRenderer.Svg(chart), "image/svg+xml");
            })
            .ExcludeFromDescription();

        api.MapGet("/history", (Engine engine) =>
            {
                using var store = engine.OpenStore();
                return store.List().Select(r => new StoredRunDto(r.Id, r.Created, r.Version, r.Seed, r.Repeat, r.Baseline, r.Kernel, r.Runs, r.Stacks, r.Workloads)).ToList();
            })
            .Produces<ApiError>(StatusCodes.Status404NotFound)
            .WithSummary("The comparisons in the server's SQLite store.");

        api.MapGet("/history/diff", (long before, long after, Engine engine) =>
            {
                using var store = engine.OpenStore();
                return store.Diff(before, after).Select(c => new ChangeDto(c.Workload, c.Stack, c.Metric, c.Before, c.After)).ToList();
            })
            .Produces<ApiError>(StatusCodes.Status400BadRequest)
            .WithSummary("Every metric whose mean differs between two stored comparisons.");

    }

    public static ComponentsDto Components(VmmHost host) => new(
        host.Plugins.Select(p => new PluginDto(p.Name, p.Version)).ToList(),
        host.Components.Select(c => new ComponentDto(c.Kind.Key(), c.Name, c.Description, c.Supplier, c.ProtectedBacking, c.MinimumKernel, c.Options.Select(Option).ToList())).ToList(),
        VmmHost.CoreOptions.Select(Option).ToList());

    public static ValidationDto Validation(ValidationResult scenario) => new(
        scenario.IsValid, scenario.File, scenario.Name, scenario.StepCount,
        scenario.Error is { } error ? DiagnosticDto.Of(error) : null,
        scenario.Warnings.Select(DiagnosticDto.Of).ToList());

    private static OptionDto Option(ComponentOption o) => new(o.Key, o.Type, o.Default, o.Description);

    private static Comparison Comparison(Engine engine, CompareRequest body) =>
        engine.Comparison(body.Stacks, body.Workloads, body.Baseline, body.Seed, body.Repeat);

    private static CompareJob FindJob(CompareJobs jobs, string id) =>
        jobs.Find(id) ?? throw WebProblemException.NotFound($"no comparison \"{id}\" (this server keeps the last {CompareJobs.Kept})");

    private static JobDto Job(CompareJob job) => new(
        job.Id, job.Done, job.Total, job.Finished, job.Last,
        job.Error is { } e ? new ApiErrorBody(e.Status, e.Message) : null,
        job.Error is not null ? "failed" : job.Report is not null ? "finished" : "running");

    private static async Task<ValidationResult> Scenario(HttpRequest request, Engine engine)
    {
        var body = await Body<ScenarioRequest>(request);
        if (body.Start is { } start)
        {
            var text = engine.Library.Read(start) ?? throw WebProblemException.NotFound($"no scenario \"{start}\" is offered; GET /api/scenarios lists them");
            return engine.Validate(text, start);
        }
        if (body.Scenario is null) throw WebProblemException.BadRequest("give \"scenario\" (the scenario's JSON as a string) or \"start\" (a name from GET /api/scenarios)");
        return engine.Validate(body.Scenario, FileName(body.Name));
    }

    /// <summary>A client's name for its scenario, kept to a file name: it labels messages and reports, and names no file here.</summary>
    public static string FileName(string? name)
    {
        var file = Path.GetFileName(name ?? "");
        return file.Length is > 0 and <= 100 && !file.Any(char.IsControl) ? file : "scenario.json";
    }

    /// <summary>Reads a JSON body of at most Vmm:MaxRequestBytes, also when its length is not announced.</summary>
    private static async Task<T> Body<T>(HttpRequest request)
    {
        if (request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            throw new WebProblemException(StatusCodes.Status415UnsupportedMediaType, "send the body as application/json");
        var limit = request.HttpContext.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<WebOptions>>().Value.MaxRequestBytes;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit) throw WebProblemException.TooLarge(limit);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) throw WebProblemException.BadRequest("the body is empty; send a JSON object");
        return JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), Json) ?? throw WebProblemException.BadRequest("the body is null; send a JSON object");
    }

    private static IResult RunDocument(RunReport report, int status)
    {
        using var text = new StringWriter();
        JsonExporter.Default.Export(report, text);
        return Results.Text(text.ToString(), "application/json", Encoding.UTF8, status);
    }

    private static IResult ComparisonDocument(ComparisonReport report)
    {
        using var text = new StringWriter();
        (ComparisonExporters.Find("json") ?? throw new InvalidOperationException("the json comparison exporter is missing")).Export(report, text);
        return Results.Text(text.ToString(), "application/json", Encoding.UTF8);
    }
}
