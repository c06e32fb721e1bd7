using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Hosting;

namespace Vmm.Testing;

/// <summary>
/// The properties every <see cref="IWorkload"/> keeps (docs/conformance.md): the same seed writes the same scenario;
/// another seed writes another one (unless <see cref="UsesTheSeed"/> is false); what it writes runs under every
/// default stack the host has; and every run, dumped as a scenario file, replays under <c>vmm run</c> with every
/// step as observed.
/// </summary>
public abstract class WorkloadConformance : ComponentConformance
{
    public sealed override ComponentKind Kind => ComponentKind.Workload;

    /// <summary>False for a workload that is deliberately the same whatever the seed.</summary>
    protected virtual bool UsesTheSeed => true;

    /// <summary>Options for the workload that keep the conformance runs small ("section.option" → value).</summary>
    protected virtual IReadOnlyList<KeyValuePair<string, string>> SmallOptions => [];

    private Comparison Comparison(IEnumerable<string> stacks, int seed, string? dump = null) => new()
    {
        Stacks = stacks.Select(s => Stack.Parse(s, Host.Components)).ToList(),
        Workloads = [ComponentName],
        Baseline = stacks.First(),
        Seed = seed,
        Options = SmallOptions,
        DumpDirectory = dump,
    };

    private static string Dumped(string directory) =>
        string.Join("\n", Directory.EnumerateFiles(directory, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllText));

    private static string StepsOf(string directory)
    {
        var file = Directory.EnumerateFiles(directory, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var steps = document.RootElement.GetProperty("steps").EnumerateArray().Select(step =>
            string.Join(",", step.EnumerateObject().Where(p => p.Name != "expect").Select(p => $"{p.Name}={p.Value.GetRawText()}")));
        return string.Join("\n", steps);
    }

    [Fact]
    public void SameSeed_WritesTheSameScenario_AnotherSeedAnotherOne()
    {
        using var first = new TemporaryDirectory();
        using var again = new TemporaryDirectory();
        using var other = new TemporaryDirectory();
        var runner = new ComparisonRunner(Host);

        runner.Run(Comparison(["plain+none"], 1, first.Path));
        runner.Run(Comparison(["plain+none"], 1, again.Path));
        runner.Run(Comparison(["plain+none"], 2, other.Path));

        Assert.Equal(Dumped(first.Path), Dumped(again.Path));
        if (UsesTheSeed) Assert.NotEqual(StepsOf(first.Path), StepsOf(other.Path));
    }

    [Fact]
    public void EveryDefaultStack_RunsItAndEveryDumpedRunReplays()
    {
        using var dump = new TemporaryDirectory();
        var runner = new ComparisonRunner(Host);
        var stacks = Stack.Defaults(Host.Components).Select(s => s.Label).ToList();

        var report = runner.Run(Comparison(stacks, 1, dump.Path));

        Assert.Equal(stacks, report.Workloads.Single().Rows.Select(r => r.Stack));
        foreach (var file in VmmHost.ExpandPaths([dump.Path]))
        {
            var validated = Host.Validate(file);
            Assert.True(validated.IsValid, $"{ComponentName}: the dump {file} does not validate: {validated.Error}");
            var replay = Host.Run(validated);
            var failed = replay.Steps.Where(s => !s.Passed).Select(s => $"step {s.Index} {s.Op}: expected {s.ExpectedJson}, got {s.ActualJson}");
            Assert.True(replay.Passed, $"{ComponentName}: the dump {file} does not replay: {string.Join("; ", failed)}");
        }
    }

    private sealed class TemporaryDirectory : IDisposable
    {
        public TemporaryDirectory() => Directory.CreateDirectory(Path);

        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vmm-conformance-" + Guid.NewGuid().ToString("N"));

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
                // Left for the system's temporary-file cleaning.
            }
        }
    }
}
