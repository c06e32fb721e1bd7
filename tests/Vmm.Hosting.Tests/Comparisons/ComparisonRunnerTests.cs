using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests.Comparisons;

/// <summary><see cref="ComparisonRunner"/> with the repository's plugins: determinism, the dump round trip, workloads' own invariants, bad input.</summary>
public sealed class ComparisonRunnerTests
{
    private static string PluginsJson => Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static Comparison Small(VmmHost host, params string[] workloads) => new()
    {
        Stacks = new[] { "plain+none", "tdx-ci+none", "tdx-ci+hwpoison-v2" }.Select(s => Stack.Parse(s, host.Components)).ToList(),
        Workloads = workloads,
        Baseline = "tdx-ci+none",
        Options = [new("boot.pages", "16"), new("malicious-vmm.pages", "18")],
    };

    private static string Export(string name, ComparisonReport report)
    {
        var writer = new StringWriter();
        ComparisonExporters.Find(name)!.Export(report, writer);
        return writer.ToString();
    }

    [Fact]
    public void Run_SameSeedInParallelOrNot_GivesByteIdenticalJsonAndCsv()
    {
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);
        var comparison = Small(host, "boot", "malicious-vmm", "memory-errors") with { Repeat = 2 };

        var serial = runner.Run(comparison with { Parallelism = 1 });
        var parallel = runner.Run(comparison with { Parallelism = 4 });

        Assert.Equal(Export("json", serial), Export("json", parallel));
        Assert.Equal(Export("csv", serial), Export("csv", parallel));
        Assert.NotEqual(Export("json", serial), Export("json", runner.Run(comparison with { Seed = 2 })));
    }

    [Fact]
    public void Run_MaliciousVmm_HwPoisonV2LeaksNothingAndNeverPanics_PlainNoneLeaksAndIsCorrupted()
    {
        using var host = VmmHost.Load(PluginsJson);

        var report = new ComparisonRunner(host).Run(Small(host, "malicious-vmm"));

        var rows = report.Workloads.Single().Rows.ToDictionary(r => r.Stack);
        Assert.Equal(0, rows["tdx-ci+hwpoison-v2"].Metrics["panics"].Mean);
        Assert.Equal(0, rows["tdx-ci+hwpoison-v2"].Metrics["leaked B"].Mean);
        Assert.Equal(0, rows["tdx-ci+hwpoison-v2"].Metrics["corrupt"].Mean);
        Assert.True(rows["plain+none"].Metrics["leaked B"].Mean > 0);
        Assert.True(rows["plain+none"].Metrics["corrupt"].Mean > 0);
        Assert.True(rows["tdx-ci+hwpoison-v2"].Metrics["SIGBUS"].Mean > 0);
        Assert.Equal(1.0, rows["tdx-ci+none"].Ratio);
        Assert.All(rows.Values, r => Assert.True(r.Metrics["peak frames"].Mean > 18, $"{r.Stack}: {r.Metrics["peak frames"].Mean} frames for 18 written pages"));
        Assert.All(rows.Values, r => Assert.Equal(r.Metrics["model µs"].Mean, r.ModelledNanosecondsByKind.Values.Sum() / 1000, 6));
        Assert.True(rows["tdx-ci+none"].IsBaseline);
    }

    [Fact]
    public void Run_WithDump_EveryDumpedScenarioPassesUnderVmmRun()
    {
        using var scratch = new ScratchDirectory();
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);
        var comparison = Small(host, [.. runner.Workloads.Select(w => w.Name)]) with { DumpDirectory = scratch.Path };

        var report = runner.Run(comparison);

        var files = VmmHost.ExpandPaths([scratch.Path]);
        Assert.Equal(report.Runs, files.Count);
        foreach (var file in files)
        {
            using (var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file)))
                Assert.All(document.RootElement.GetProperty("steps").EnumerateArray(), step => Assert.True(step.TryGetProperty("expect", out _), $"{file}: a step without expect"));
            var validated = host.Validate(file);
            Assert.True(validated.IsValid, $"{file}: {validated.Error}");
            var replay = host.Run(validated);
            Assert.True(replay.Passed, $"{file}: {string.Join("; ", replay.Steps.Where(s => !s.Passed).Select(s => $"step {s.Index} {s.Op}: expected {s.ExpectedJson}, got {s.ActualJson}"))}");
        }
    }

    [Theory]
    [InlineData("tdx-cx+none", "no component is named \"tdx-cx\"")]
    [InlineData("tdx-ci+none+hwpoison-v2", "two policy components (none and hwpoison-v2)")]
    [InlineData("tdx-ci+hwpoison-v2,trackReason", "expected section.option=value after a comma")]
    [InlineData("colour=red", "unknown component kind \"colour\"")]
    public void StackParse_BadStack_NamesTheProblem(string text, string message)
    {
        using var host = VmmHost.Load(PluginsJson);

        var error = Assert.Throws<ComparisonException>(() => Stack.Parse(text, host.Components));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"stack \"{text}\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_UnknownWorkloadOrOption_IsOneClearComparisonError()
    {
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);

        var typo = Assert.Throws<ComparisonException>(() => runner.Run(Small(host, "bot")));
        var option = Assert.Throws<ComparisonException>(() => runner.Run(Small(host, "boot") with { Options = [new("boot.pagez", "3")] }));
        var value = Assert.Throws<ComparisonException>(() => runner.Run(Small(host, "boot") with { Options = [new("boot.pages", "0")] }));
        var baseline = Assert.Throws<ComparisonException>(() => runner.Run(Small(host, "boot") with { Baseline = "sev-snp+none" }));

        Assert.Contains("unknown workload \"bot\" (did you mean \"boot\"?); known: ", typo.Message, StringComparison.Ordinal);
        Assert.Contains("unknown option \"pagez\" for \"boot\"", option.Message, StringComparison.Ordinal);
        Assert.Contains("pages must be 1 or more, not 0", value.Message, StringComparison.Ordinal);
        Assert.Contains("--baseline \"sev-snp+none\" is not one of the stacks compared", baseline.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_CoversEveryLoadedDefaultStackAndEveryWorkload_WithTdxCiNoneAsBaseline()
    {
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);

        var comparison = runner.Default();

        Assert.Equal("tdx-ci+none", comparison.Baseline);
        Assert.Contains(comparison.Stacks, s => s.Label == "tdx-ci+hwpoison-v2,hwpoison.trackReason=true");
        Assert.Equal(runner.Workloads.Select(w => w.Name), comparison.Workloads);
        Assert.Contains("malicious-vmm", comparison.Workloads);
        Assert.All(comparison.Stacks, s => Assert.All(s.Components, c => Assert.Contains(host.Components, info => info.Kind == c.Key && info.Name == c.Value)));
    }
}
