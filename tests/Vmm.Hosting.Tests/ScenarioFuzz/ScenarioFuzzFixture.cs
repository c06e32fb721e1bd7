using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>
/// Loaded once for the fuzz and corpus tests: the repository's plugins.json in one <see cref="VmmHost"/>, the
/// generator's vocabulary (components, options, ops, the files of scenarios/), and a scratch directory.
/// </summary>
public sealed class ScenarioFuzzFixture : IDisposable
{
    /// <summary>Per-input limit: far above any sane scenario (milliseconds), far below the hangs.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private readonly ScratchDirectory _scratch = new();

    public ScenarioFuzzFixture()
    {
        Host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var scenarios = Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "scenarios"), "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        Vocabulary = new FuzzVocabulary(Host, scenarios);
        Oracle = new ScenarioOracle(Host, Limit);
    }

    public VmmHost Host { get; }

    internal FuzzVocabulary Vocabulary { get; }

    public ScenarioOracle Oracle { get; }

    /// <summary>Where generated inputs are written, one file each.</summary>
    public string ScratchPath => _scratch.Path;

    public static string CorpusDirectory => Path.Combine(TestPaths.RepoRoot, "tests", "Vmm.Hosting.Tests", "ScenarioFuzz", "Corpus");

    public void Dispose()
    {
        // A thread left running past the limit may still use the host; the process ends it.
        if (Oracle.Stuck == 0) Host.Dispose();
        _scratch.Dispose();
    }
}

/// <summary>The fuzz and corpus tests share one host and run one after the other (each uses both cores).</summary>
[CollectionDefinition(Name)]
public sealed class ScenarioFuzzCollection : ICollectionFixture<ScenarioFuzzFixture>
{
    public const string Name = "Scenario fuzz";
}
