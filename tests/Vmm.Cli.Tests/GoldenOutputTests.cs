using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary>
/// Golden outputs: `vmm run --json` over a fixed list of scenarios and the default `vmm compare`'s JSON export, byte for
/// byte (outcomes, cost counts, modelled time and every comparison metric). A speed-up must leave them identical; a
/// change of behaviour regenerates them on purpose with <c>VMM_GOLDEN_UPDATE=1 dotnet test tests/Vmm.Cli.Tests --filter
/// FullyQualifiedName~GoldenOutputTests</c>, and the diff of the golden files shows what changed.
/// </summary>
public sealed class GoldenOutputTests
{
    private static readonly string Golden = Path.Combine(TestPaths.RepoRoot, "tests", "Vmm.Cli.Tests", "Golden");
    private static readonly string RepositoryPlugins = Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static bool Updating => Environment.GetEnvironmentVariable("VMM_GOLDEN_UPDATE") == "1";

    [Fact]
    public void RunJson_FixedScenarios_IsByteIdenticalToTheGoldenFile()
    {
        var list = Path.Combine(Golden, "run-scenarios.txt");
        var files = File.ReadAllLines(list).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.True(files.Count > 100, $"{list} should list the golden scenarios, one path per line");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = Program.Run(["run", "--json", "--plugins", RepositoryPlugins, .. files.Select(f => Path.Combine(TestPaths.RepoRoot, f))], stdout, stderr);

        Assert.True(code == 0, $"vmm run --json exited {code}\n{stderr}");
        Check("run-scenarios.json", Relative(stdout.ToString()));
    }

    [Fact]
    public void CompareJson_Default_IsByteIdenticalToTheGoldenFile()
    {
        using var output = new ScratchDirectory();
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = Program.Run(["compare", "--plugins", RepositoryPlugins, "--export", "json", "--output", output.Path], stdout, stderr);

        Assert.True(code == 0, $"vmm compare exited {code}\n{stderr}");
        Check("compare-default.json", File.ReadAllText(Path.Combine(output.Path, "compare.json")));
    }

    /// <summary>Scenario paths as a run from the repository root prints them, whatever the checkout's location.</summary>
    private static string Relative(string json) => json.Replace(TestPaths.RepoRoot + Path.DirectorySeparatorChar, "", StringComparison.Ordinal);

    private static void Check(string name, string actual)
    {
        var path = Path.Combine(Golden, name);
        if (Updating)
        {
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"{path} is missing: make it with VMM_GOLDEN_UPDATE=1 (see {nameof(GoldenOutputTests)})");
        var expected = File.ReadAllText(path);
        if (expected == actual) return;
        var at = Enumerable.Range(0, Math.Min(expected.Length, actual.Length)).FirstOrDefault(i => expected[i] != actual[i], Math.Min(expected.Length, actual.Length));
        var line = expected.AsSpan(0, at).Count('\n') + 1;
        Assert.Fail($"{name} differs from the golden file from line {line}:\n  golden: {Around(expected, at)}\n  now:    {Around(actual, at)}\n"
            + "If the change of behaviour is intended, regenerate with VMM_GOLDEN_UPDATE=1 and review the diff.");
    }

    private static string Around(string text, int at)
    {
        var start = Math.Max(0, text.LastIndexOf('\n', Math.Max(0, Math.Min(at, text.Length - 1))) + 1);
        var end = text.IndexOf('\n', Math.Min(at, text.Length));
        return text[start..(end < 0 ? text.Length : end)].Trim();
    }
}
