using System.Reflection;
using Microsoft.Extensions.Options;
using Vmm.Hosting;
using Vmm.Store;

namespace Vmm.Web;

/// <summary>
/// The web front end's one way into Vmm.Hosting: the loaded host (plugins load on first use, so a broken plugins.json
/// is an error page, not a server that will not start), the scenario files it offers, and runs and comparisons
/// bounded by the <see cref="RunGate"/>.
/// </summary>
public sealed class Engine : IDisposable
{
    private readonly WebOptions _options;
    private readonly Lazy<VmmHost> _host;
    private readonly Lazy<ScenarioLibrary> _library;

    public Engine(IOptions<WebOptions> options, RunGate gate)
    {
        _options = options.Value;
        Gate = gate;
        _host = new Lazy<VmmHost>(() => VmmHost.Load(PluginsLocator.Find(_options.Plugins)));
        _library = new Lazy<ScenarioLibrary>(() => new ScenarioLibrary(_options.Scenarios ?? Path.Combine(Path.GetDirectoryName(Host.PluginsFile)!, "scenarios")));
    }

    /// <summary>This front end's version, as the store records it.</summary>
    public static string Version { get; } =
        typeof(Engine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The host; a plugins.json that cannot be loaded throws <see cref="PluginLoadException"/> on each use.</summary>
    public VmmHost Host => _host.Value;

    public ScenarioLibrary Library => _library.Value;

    public RunGate Gate { get; }

    public WebOptions Options => _options;

    public ValidationResult Validate(string text, string name) => Host.ValidateText(text, name);

    /// <summary>Validates and runs; invalid input is an <see cref="InvalidScenarioException"/>.</summary>
    public Task<ScenarioReport> Run(ValidationResult scenario, CancellationToken aborted) =>
        Gate.Run(token => Host.Run(Valid(scenario), cancellationToken: token), aborted);

    public Task<MemoryMapReport> Map(ValidationResult scenario, CancellationToken aborted) =>
        Gate.Run(token => Host.RunWithMemoryMaps(Valid(scenario), maxCells: _options.MemoryMapCells, cancellationToken: token), aborted);

    /// <summary>Runs a comparison, telling <paramref name="progress"/> after each run, and appends it to the store when one is configured.</summary>
    public Task<ComparisonReport> Compare(Comparison comparison, Action<ComparisonProgress>? progress, CancellationToken aborted)
    {
        if (comparison.RunCount > _options.MaxCompareRuns)
            throw WebProblemException.BadRequest($"the comparison asks for {comparison.RunCount} runs (stacks × workloads × repeats); this server runs at most {_options.MaxCompareRuns} (Vmm:MaxCompareRuns); choose fewer");
        return Gate.Run(token =>
        {
            var runner = new ComparisonRunner(Host);
            if (progress is not null) runner.RunFinished += progress;
            var report = runner.Run(comparison, token);
            if (_options.Store is { } store)
            {
                using var database = ComparisonStore.Open(store);
                database.Append(report, ComparisonFile.ToJson(comparison), Version);
            }
            return report;
        }, aborted);
    }

    /// <summary>
    /// A comparison of the named stacks (labels as <c>vmm compare --stack</c> takes them) and workloads; empty lists mean
    /// the defaults, and the baseline defaults as in <c>vmm compare</c>. Unknown names are a <see cref="ComparisonException"/> (here or from the runner).
    /// </summary>
    public Comparison Comparison(IReadOnlyList<string>? stacks, IReadOnlyList<string>? workloads, string? baseline, int? seed, int? repeat)
    {
        var defaults = new ComparisonRunner(Host).Default();
        var chosen = stacks is { Count: > 0 } ? stacks.Select(s => Stack.Parse(s, Host.Components)).ToList() : defaults.Stacks.ToList();
        var names = workloads is { Count: > 0 } ? workloads.Distinct(StringComparer.Ordinal).ToList() : defaults.Workloads.ToList();
        return defaults with
        {
            Stacks = chosen,
            Workloads = names,
            Baseline = baseline is { Length: > 0 } ? baseline
                : stacks is not { Count: > 0 } ? defaults.Baseline
                : chosen.Any(s => s.Label == Stack.DefaultBaseline) ? Stack.DefaultBaseline : chosen[0].Label,
            Seed = seed ?? defaults.Seed,
            Repeat = repeat ?? defaults.Repeat,
        };
    }

    /// <summary>The configured store, or a 404 problem saying how to configure one.</summary>
    public ComparisonStore OpenStore()
    {
        if (_options.Store is not { } path)
            throw WebProblemException.NotFound("no history store is configured; start the server with --Vmm:Store=FILE.db (a file vmm compare --store FILE.db wrote, or a new one that web comparisons fill)");
        return ComparisonStore.Open(path);
    }

    public void Dispose()
    {
        if (_host.IsValueCreated) _host.Value.Dispose();
    }

    private static ValidationResult Valid(ValidationResult scenario) =>
        scenario.IsValid ? scenario : throw new InvalidScenarioException(scenario.Error!);
}

/// <summary>
/// The scenario files offered as starts, by name (their path under the directory, with '/'); a name is looked up in this
/// list, never joined to a path, so a request can read no other file.
/// </summary>
public sealed class ScenarioLibrary
{
    private readonly Dictionary<string, string> _files;

    public ScenarioLibrary(string directory)
    {
        var root = Path.GetFullPath(directory);
        _files = Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'), f => f, StringComparer.Ordinal)
            : [];
        Names = _files.Keys.Order(StringComparer.Ordinal).ToList();
    }

    public IReadOnlyList<string> Names { get; }

    /// <summary>The text of the file named <paramref name="name"/>, or null when the list has no such name.</summary>
    public string? Read(string name) => _files.TryGetValue(name, out var path) ? File.ReadAllText(path) : null;
}
